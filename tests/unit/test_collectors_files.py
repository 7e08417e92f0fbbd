"""The collectors' files (pipelines/publish/collectors.py) written by a pool of processes are
the files one process writes: the same names, the same cells, the same drafts; a process's
error reaches the night."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from models.worklist import WorklistPolicy, coming_up, plan_invoices, rank_customers, todays_list
from pipelines.publish import collectors
from pipelines.publish.drafts import DraftContext
from tests.handmade_book import AS_OF, CUSTOMERS, PROMISES, SCORES
from tests.unit.test_drafts import COMPANY

RATES = pd.DataFrame(
    {"half_year_start": ["2026-01-01", "2026-07-01"], "ecb_main_refinancing_rate": [2.15, 2.15]}
)


@pytest.fixture
def files() -> collectors.CollectorsFiles:
    invoices = plan_invoices(SCORES, CUSTOMERS, AS_OF, promises=PROMISES)
    worklist = rank_customers(invoices, CUSTOMERS, AS_OF, policy=WorklistPolicy())
    published = todays_list(worklist)
    behind = invoices[invoices["customer_id"].isin(published["customer_id"])]
    drafts = DraftContext(
        as_of=pd.Timestamp(AS_OF),
        company=COMPANY,
        customers=CUSTOMERS[["customer_id", "name", "country"]],
        invoices=behind.assign(currency=behind.get("currency", "EUR")),
        history=pd.DataFrame(
            columns=["customer_id", "invoice_id", "action_date", "action", "channel", "note"]
        ),
        rates=RATES,
        french_law={"FR"},
        french_language={"FR"},
    )
    return collectors.CollectorsFiles(
        published, behind, coming_up(worklist), drafts, date(2026, 11, 1), "fr_FR"
    )


def _contents(folder: Path) -> dict[str, object]:
    """Every file under `folder`: a workbook's cell values, a PDF's text, other files' bytes."""
    out: dict[str, object] = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        name = str(path.relative_to(folder))
        if path.suffix == ".xlsx":
            book = load_workbook(path)
            out[name] = {s.title: [[c.value for c in r] for r in s.iter_rows()] for s in book}
        elif path.suffix == ".pdf":
            out[name] = [page.extract_text() for page in PdfReader(path).pages]
        else:
            out[name] = path.read_bytes()
    return out


def test_a_pool_of_processes_writes_what_one_process_writes(tmp_path, files):
    one, pool = tmp_path / "one", tmp_path / "pool"
    one.mkdir(), pool.mkdir()
    with collectors.writing(one, files, processes=0):
        pass
    with collectors.writing(pool, files, processes=2):
        pass
    written = _contents(one)
    assert {"worklist_Karim.xlsx", "worklist_Laura.xlsx"} <= set(written)
    assert any(name.startswith("drafts/") for name in written)
    assert _contents(pool) == written


def test_an_error_in_a_process_reaches_the_night(tmp_path, files):
    # the drafts of a customer whose folder cannot be made: a file stands in its place
    (tmp_path / "drafts").write_text("in the way")
    with pytest.raises(OSError), collectors.writing(tmp_path, files, processes=2):
        pass


def test_a_small_day_is_written_by_this_process(files):
    assert files.seconds() < collectors.SECONDS_PER_PROCESS
    assert collectors.processes_for(files) == 0
