"""Publishing: the files people read, written safely and published atomically.

- this module: the atomic publish of a night's folder;
- `files.py`: text from the data made inert, the CSV worklist;
- `workbooks.py`: the collectors' workbooks (XlsxWriter); `collectors.py`: each collector's
  workbook and drafts (`drafts.py`), by a pool of processes when the day's writing is large;
- `report.py` and `templates/`: the managers' report (Jinja2, self-contained HTML); `book.py`
  its figures per currency, `strings.py` its words in English and French;
- `locale.py`: amounts, numbers and dates in the readers' locale (Babel), Excel amount formats;
- `figures.py`: every chart (report, MLflow runs, notebooks).

Layout of `outputs_dir`:
    <as_of>/                 a symbolic link to the folder of the run that published that date
    latest                   a symbolic link to the most recent as-of date
    .runs/<as_of>.<stamp>/   the folders themselves: worklist.csv, worklist_<collector>.xlsx,
                             report.html

A run writes into a fresh folder under .runs/ and then replaces the `<as_of>` link in one
rename, which the operating system makes atomic: readers see the previous folder or the new one,
never a mix, and a run that fails or is killed before the rename leaves the previous one in place
(its unfinished folder is removed by the next run). Only the folder the link points to is kept.

Text that comes from the data (customer names, collectors, reasons...) is neutralised before it
is written: a cell beginning with = + - @ (or a tab or carriage return) would run as a formula in
a spreadsheet, so it gets a leading apostrophe (OWASP's advice for CSV injection).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path

RUNS = ".runs"
LATEST = "latest"


@contextmanager
def staged(outputs_dir: Path, as_of: str) -> Iterator[Path]:
    """Yield a fresh folder to write a run's files into; when the block ends without error,
    switch `<outputs_dir>/<as_of>` to it atomically and point `latest` at the newest date.
    On error the folder is removed and the published outputs are untouched."""
    runs = outputs_dir / RUNS
    runs.mkdir(parents=True, exist_ok=True)
    _remove_unfinished(outputs_dir)
    folder = runs / f"{as_of}.{datetime.now():%Y%m%dT%H%M%S%f}"
    folder.mkdir()
    try:
        yield folder
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    target = outputs_dir / as_of
    previous = _switch(target, folder)
    if previous is not None and previous != folder:
        shutil.rmtree(previous, ignore_errors=True)
    newest = max(p.name for p in outputs_dir.iterdir() if _is_date(p.name) and p.is_dir())
    _switch(outputs_dir / LATEST, outputs_dir / newest, keep_previous=True)


def _switch(link: Path, folder: Path, *, keep_previous: bool = False) -> Path | None:
    """Make `link` a relative symbolic link to `folder` in one rename; return the folder it
    pointed to before (None if none). A real folder in the way (made by hand, or copied over
    the link) is moved into .runs/ first and replaced like a previous run's folder."""
    previous = None
    if link.is_symlink():
        previous = (link.parent / os.readlink(link)).resolve()
    elif link.exists():
        previous = link.parent / RUNS / f"{link.name}.legacy"
        os.replace(link, previous)
    tmp = link.parent / f".{link.name}.link"
    tmp.unlink(missing_ok=True)
    os.symlink(os.path.relpath(folder, link.parent), tmp)
    os.replace(tmp, link)
    return None if keep_previous else previous


def _remove_unfinished(outputs_dir: Path) -> None:
    """Folders under .runs/ that no link points to: left by a run that failed or was killed."""
    linked = {
        (p.parent / os.readlink(p)).resolve() for p in outputs_dir.iterdir() if p.is_symlink()
    }
    for folder in (outputs_dir / RUNS).iterdir():
        if folder.resolve() not in linked:
            shutil.rmtree(folder, ignore_errors=True)


def _is_date(name: str) -> bool:
    try:
        date.fromisoformat(name)
    except ValueError:
        return False
    return True
