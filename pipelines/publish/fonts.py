"""The fonts of the PDF drafts: DejaVu (matplotlib ships it: every accent, the euro sign), whole
or its Latin subset.

fpdf2 reads a font file for each document it makes: about 30 ms for each DejaVu font, most of a
letter's cost. Letters are almost always written in Latin script, for which a subset of DejaVu
(LATIN: about 1,600 of its 6,000 glyphs) costs a third of that. The subset is made once with
fontTools' subsetter and kept in the user's cache folder; a document with any character outside
LATIN is written in the whole font, and so is every document when the cache folder cannot be
written. The glyphs, their widths and so the pages are the same in either font.
"""

from __future__ import annotations

import functools
import hashlib
import html
import os
from pathlib import Path

import fontTools
import matplotlib
from fontTools import subset
from fontTools.ttLib import TTFont

FONTS = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf", "I": "DejaVuSans-Oblique.ttf"}
# Latin letters with their accents (Latin-1, Extended-A and -B, Additional), combining marks,
# general punctuation (dashes, quotes, bullets, the narrow no-break space of French amounts),
# currency and letter-like symbols, arrows and mathematical operators (fpdf2's list bullets),
# geometric shapes.
LATIN_RANGES = (
    (0x20, 0x24F),
    (0x300, 0x36F),
    (0x1E00, 0x1EFF),
    (0x2000, 0x206F),
    (0x20A0, 0x20CF),
    (0x2100, 0x214F),
    (0x2190, 0x22FF),
    (0x25A0, 0x25FF),
)
LATIN = frozenset(
    [0x09, 0x0A, 0x0D, *(c for low, high in LATIN_RANGES for c in range(low, high + 1))]
)


def font_files(text: str, styles: tuple[str, ...]) -> dict[str, Path]:
    """The DejaVu file of each style (FONTS' keys) for a document whose HTML is `text`: the Latin
    subset when every character the document shows is in LATIN and the subset can be kept, else
    the whole font."""
    whole = {style: _dejavu() / FONTS[style] for style in styles}
    if not {ord(c) for c in html.unescape(text)} <= LATIN:
        return whole
    latin = {style: _latin(path, _cache()) for style, path in whole.items()}
    return whole if None in latin.values() else latin


def _latin(font: Path, cache: Path) -> Path | None:
    """The LATIN subset of `font` in `cache` (None when it cannot be kept); made again when it
    was removed since (a long-running worker, a cleaned cache)."""
    path = _made(font, cache)
    if path is not None and not path.exists():
        _made.cache_clear()
        path = _made(font, cache)
    return path


def _dejavu() -> Path:
    return Path(matplotlib.get_data_path()) / "fonts" / "ttf"


def _cache() -> Path:
    """The user's cache folder for latepay's fonts (XDG_CACHE_HOME, else ~/.cache)."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "latepay" / "fonts"


@functools.cache
def _made(font: Path, cache: Path) -> Path | None:
    """The LATIN subset of `font` in `cache`, made when missing (None when it cannot be kept:
    remembered, not tried again for each document). Its name carries a hash of the font, the
    ranges and fontTools' version: a change of any makes a new one."""
    key = hashlib.sha256(font.read_bytes() + repr((LATIN_RANGES, fontTools.version)).encode())
    path = cache / f"{font.stem}-latin-{key.hexdigest()[:16]}.ttf"
    if path.exists():
        return path
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    options = subset.Options()
    options.layout_features = ["*"]  # (fpdf2 does not shape text; kept as they are)
    options.name_IDs = ["*"]
    options.notdef_outline = True
    options.drop_tables = [*options.drop_tables, "FFTM"]  # FontForge's timestamps
    made = TTFont(font)
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=LATIN)
    subsetter.subset(made)
    try:
        partial = path.with_name(f"{path.name}.{os.getpid()}.part")
        made.save(partial)
        partial.replace(path)  # atomic: a pool process never reads half a file
    except OSError:
        return None
    return path
