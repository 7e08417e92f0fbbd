"""Each collector's files, its workbook and its drafts, written beside the rest of the night's
publishing, by other processes when there is enough of it to pay for them.

Writing them is pure Python (XlsxWriter's cells, fpdf2's fonts and pages, Jinja): one core,
whatever the machine has. On the 10M-invoice book (12 collectors, 360 rows, 93 PDFs, 130,000
sheet rows) they took 25 s of a 58 s night on one core. Each collector's files depend on its
rows only, so a pool of processes (the standard library's ProcessPoolExecutor, started by
`spawn`: nothing of the parent's threads, DuckDB's or LightGBM's, is copied) writes them one
collector at a time, largest first, while this process writes the CSV, the report and the run.
A process costs about a second to start (importing pandas, XlsxWriter, fpdf2): a small day is
written here, as before.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import pandas as pd

from pipelines.publish.drafts import DraftContext, write_drafts
from pipelines.publish.workbooks import collector_file_names, write_collector_workbooks

# Seconds of writing, measured on the 10M book: a published row's drafts (a PDF letter, an
# agency pack or an email) about 40 ms; a sheet row (worklist, coming up, invoices) 75 µs
DRAFT_ROW_S, SHEET_ROW_S = 0.04, 0.000075
SECONDS_PER_PROCESS = 4.0  # a process is started for at least this much writing


@dataclasses.dataclass(frozen=True)
class CollectorsFiles:
    """What the collectors' files are written from: today's list, the open invoices behind it,
    the customers whose action is later (up to `coming_until`, when given), what the drafts
    need, and per collector how many customers with work due the list could not hold."""

    published: pd.DataFrame
    behind: pd.DataFrame
    coming: pd.DataFrame
    drafts: DraftContext
    as_of: date
    locale: str
    coming_until: date | None = None
    not_reached: dict[str, int] | None = None  # None: not counted, and so not said

    def seconds(self) -> float:
        """The writing's estimated cost on one core."""
        sheet_rows = len(self.published) + len(self.behind) + len(self.coming)
        return len(self.published) * DRAFT_ROW_S + sheet_rows * SHEET_ROW_S

    def of(self, collector: str) -> CollectorsFiles:
        """One collector's part."""
        rows = self.published[self.published["collector"].astype(str) == collector]
        customers = rows["customer_id"]
        drafts = self.drafts
        return dataclasses.replace(
            self,
            published=rows,
            behind=self.behind[self.behind["customer_id"].isin(customers)],
            coming=self.coming[self.coming["collector"].astype(str) == collector],
            drafts=dataclasses.replace(
                drafts,
                customers=drafts.customers[drafts.customers["customer_id"].isin(customers)],
                invoices=drafts.invoices[drafts.invoices["customer_id"].isin(customers)],
                history=drafts.history[drafts.history["customer_id"].isin(customers)],
                written=[],
            ),
        )


def write(folder: Path, files: CollectorsFiles, names: dict[str, str]) -> list[Path]:
    """The workbooks and drafts of `files`' collectors into `folder`; the files written."""
    workbooks = write_collector_workbooks(
        files.published, files.behind, folder, files.as_of, files.coming, files.locale, names,
        coming_until=files.coming_until, not_reached=files.not_reached,
    )  # fmt: skip
    return [*workbooks.values(), *write_drafts(folder, files.published, files.drafts)]


def processes_for(files: CollectorsFiles, at_most: int | None = None) -> int:
    """How many processes write `files` (0: this process alone): `at_most`
    (LATEPAY_PUBLISH_PROCESSES), else one per SECONDS_PER_PROCESS of writing and per core, and 0
    rather than one; never more than one per collector."""
    if at_most is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        at_most = min(int(files.seconds() // SECONDS_PER_PROCESS), cores or 1)
        at_most = at_most if at_most > 1 else 0
    return min(at_most, files.published["collector"].nunique())


@contextmanager
def writing(folder: Path, files: CollectorsFiles, processes: int | None = None) -> Iterator[None]:
    """Write the collectors' files into `folder` while the block runs, by `processes_for(files,
    processes)` processes (0 writes them here, before the block); on leaving, wait for them,
    raising the first error a process met. An error in the block cancels what has not started."""
    names = collector_file_names(files.published["collector"])
    processes = processes_for(files, processes)
    if not processes:
        write(folder, files, names)
        yield
        return
    parts = sorted(
        (files.of(c) for c in names), key=CollectorsFiles.seconds, reverse=True
    )  # largest first: the last to start are the shortest
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(processes, mp_context=context) as pool:
        futures: list[Future] = [pool.submit(write, folder, part, names) for part in parts]
        try:
            yield
        except BaseException:
            pool.shutdown(cancel_futures=True)
            raise
        for future in futures:
            future.result()
