"""report.html opened in a real browser (headless Chromium from Debian's `chromium` package,
installed by .ci/run): the page renders without a script, its sections, tables and charts are
there, the book's headline is on the first screen, and a screenshot is taken (kept next to the
page in the test's folder, to look at)."""

from __future__ import annotations

import os
import shutil
import subprocess

import numpy as np
import pytest
from matplotlib.image import imread

from pipelines.publish import report
from tests.unit.test_report import SECTIONS, _context, planned  # noqa: F401 (a fixture)

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.slow,  # a browser: 3-4 s a page
    pytest.mark.skipif(
        CHROMIUM is None and not os.environ.get("CI"),
        reason="no chromium here (`apt-get install chromium`); CI installs it and runs this test",
    ),
]
HEADER_BLUE = np.array([0x1F, 0x4E, 0x79]) / 255  # the tables' header row and the h2 rules


def _chromium(*args: str) -> subprocess.CompletedProcess:
    assert CHROMIUM, "chromium is not installed: .ci/run installs it"
    return subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


@pytest.mark.parametrize("locale", ["fr_FR", "en_GB"])
def test_the_report_renders_in_a_browser(tmp_path, planned, locale):  # noqa: F811
    values = _context(planned, locale)
    page = tmp_path / "report.html"
    page.write_text(report.render(values), encoding="utf-8")

    dom = _chromium("--dump-dom", page.as_uri()).stdout
    for section in SECTIONS:
        assert f'<section id="{section}">' in dom, section
    assert dom.count("<svg") == 2  # the cash expected per week, in euros and in pounds
    start = dom.index('<table class="top" id="top">')
    top = dom[start : dom.index("</table>", start)]
    assert top.count("<tr>") == 1 + len(values["top"])  # header + one line per customer
    assert "Delta &lt;script&gt;alert(1)&lt;/script&gt; SARL" in top  # shown as text, not run
    assert "<script" not in dom

    shot = tmp_path / "report.png"
    _chromium(f"--screenshot={shot}", "--window-size=1280,3200", page.as_uri())
    pixels = imread(shot)[:, :, :3]
    assert pixels.shape[:2] == (3200, 1280)
    assert pixels.std() > 0.05  # not a blank page
    # the headline's tables (blue header rows) are drawn on the first laptop screen (800 px)
    blue = np.abs(pixels - HEADER_BLUE).max(axis=2) < 0.02
    first_screen = blue[:800].any(axis=1)
    assert first_screen.sum() >= 40, "the headline tables are not on the first screen"
