"""The PDF drafts' fonts (pipelines/publish/fonts.py): a Latin letter in the subset of DejaVu, the
same page as in the whole font; any other character, or no cache folder, the whole font."""

from __future__ import annotations

from pathlib import Path

import pytest
from pypdf import PdfReader

from pipelines.publish import fonts
from pipelines.publish.drafts import _document

LETTER = (
    "<p>Madame, Monsieur,</p><p>la facture <b>F-123</b> de 1\u202f234,56\u00a0€ reste impayée "
    "— « merci » ; œuvre, Łódź, Ærø, naïve</p><ul><li>un</li><li>deux</li></ul>"
)


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "latepay" / "fonts"


def _page(path: Path, html: str):
    _document(html, ("", "B")).output(str(path))
    return PdfReader(path).pages[0]


def test_a_latin_letter_is_the_same_page_in_the_subset(cache: Path, tmp_path: Path) -> None:
    files = fonts.font_files(LETTER, ("", "B"))
    assert {p.parent for p in files.values()} == {cache}
    subset = _page(tmp_path / "subset.pdf", LETTER)
    whole = {s: fonts._dejavu() / fonts.FONTS[s] for s in ("", "B")}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("pipelines.publish.drafts.font_files", lambda text, styles: whole)
        reference = _page(tmp_path / "whole.pdf", LETTER)
    # the same glyphs at the same places, the same text
    assert subset.get_contents().get_data() == reference.get_contents().get_data()
    assert subset.extract_text() == reference.extract_text()
    assert "1 234,56 € reste impayée" in subset.extract_text().replace("\u202f", " ")


@pytest.mark.parametrize("name", ["Дмитрий Ωμέγα", "&#1044;mitri"])
def test_a_character_outside_latin_is_written_in_the_whole_font(
    cache: Path, tmp_path: Path, name: str
) -> None:
    """A Cyrillic or Greek name (written, or as an HTML entity): the subset lacks its glyphs."""
    html = f"<p>Cher {name},</p>"
    assert fonts.font_files(html, ("",)) == {"": fonts._dejavu() / "DejaVuSans.ttf"}
    text = _page(tmp_path / "name.pdf", html).extract_text()
    assert ("Дмитрий Ωμέγα" if "Д" in name else "Дmitri") in text


def test_the_subset_is_made_once_and_kept(cache: Path) -> None:
    [first] = fonts.font_files(LETTER, ("",)).values()
    made = first.stat().st_mtime_ns
    fonts._made.cache_clear()  # as a new process
    [again] = fonts.font_files(LETTER, ("",)).values()
    assert again == first and again.stat().st_mtime_ns == made
    assert [p.name for p in cache.iterdir()] == [first.name]  # no partial file left
    # removed while the process runs (a cleaned cache): made again, never a missing file
    first.unlink()
    [remade] = fonts.font_files(LETTER, ("",)).values()
    assert remade == first and remade.exists()


def test_no_cache_folder_means_the_whole_font(tmp_path: Path, monkeypatch) -> None:
    blocked = tmp_path / "a file"
    blocked.write_text("not a folder")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))
    assert fonts.font_files(LETTER, ("", "B")) == {
        s: fonts._dejavu() / fonts.FONTS[s] for s in ("", "B")
    }
    assert "Madame" in _page(tmp_path / "letter.pdf", LETTER).extract_text()
