"""The inbox: the folder where exports are dropped for the nightly job to load."""

from __future__ import annotations

import shutil
from pathlib import Path


def inbox_files(inbox_dir: Path) -> list[Path]:
    """The files dropped in the inbox (sorted): regular files whose name does not start with "."
    or "~$" (the lock file Excel leaves beside a workbook it has open, such as a collector's
    worklist saved into the inbox); sub-folders such as loaded/ and failed/ are not looked into;
    none if it does not exist."""
    return sorted(
        p for p in inbox_dir.glob("*") if p.is_file() and not p.name.startswith((".", "~$"))
    )


def move_files(files: list[Path], folder: Path) -> Path:
    """Move `files` into `folder` (created if needed), keeping their names; returns `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    for path in files:
        shutil.move(path, folder / path.name)
    return folder
