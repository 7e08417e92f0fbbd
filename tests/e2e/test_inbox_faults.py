"""A bad night never blocks the next one: inbox files that break the load, whatever the error,
are moved to inbox/failed/<date>/ with the reason beside them, and the night refuses."""

from __future__ import annotations

from datetime import date

import pytest

from pipelines.jobs import nightly as nightly_job
from pipelines.jobs.score import RefusedToPublish
from tests.conftest import settings_in

TODAY = date(2026, 11, 2)


def _drop(settings, name: str, text: str):
    settings.inbox_dir.mkdir(parents=True, exist_ok=True)
    (settings.inbox_dir / name).write_text(text, encoding="utf-8")


def test_a_file_that_crashes_the_load_is_moved_aside_with_its_reason(tmp_path, monkeypatch):
    settings = settings_in(tmp_path)
    _drop(settings, "invoices.csv", "invoice_id,customer_id\n")

    def crash(*args, **kwargs):
        raise RuntimeError("the reader fell over")

    monkeypatch.setattr(nightly_job, "ingest", crash)
    with pytest.raises(RefusedToPublish) as refused:
        nightly_job.load_inbox(settings, TODAY)
    failed = settings.inbox_dir / "failed" / "2026-11-02"
    assert str(refused.value) == (
        f"could not load the inbox (RuntimeError: the reader fell over); its files were moved to "
        f"{failed}, with the reason in REASON.txt. Fix them and drop them again; yesterday's list "
        "stays in place."
    )
    assert (failed / "invoices.csv").exists()
    assert (
        failed / "REASON.txt"
    ).read_text() == "invoices.csv: RuntimeError: the reader fell over\n"
    # the next night finds an empty inbox: nothing to load, nothing refused
    assert nightly_job.load_inbox(settings, date(2026, 11, 3)) == ([], None)


def test_a_file_latepay_refuses_is_moved_aside_with_the_rule(tmp_path):
    settings = settings_in(tmp_path)
    _drop(settings, "invoices.csv", "")
    with pytest.raises(RefusedToPublish, match="rule empty_file"):
        nightly_job.load_inbox(settings, TODAY)
    reason = (settings.inbox_dir / "failed" / "2026-11-02" / "REASON.txt").read_text()
    assert reason.startswith("invoices.csv: ") and "rule empty_file" in reason
    assert nightly_job.inbox_files(settings.inbox_dir) == []
