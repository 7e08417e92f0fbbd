"""report.html opened in a real browser (headless Chromium from Debian's `chromium` package,
installed by .ci/run): the page renders, its tables and charts are there, a screenshot is taken."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
from matplotlib.image import imread

from models.worklist import plan_invoices, rank_customers, todays_list
from pipelines.publish import report
from pipelines.warehouse import connect, rebuild_settlements
from tests.handmade_book import AS_OF, CUSTOMERS, PROMISES, SCORES

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("CI"),
    reason="no chromium here (`apt-get install chromium`); CI installs it and runs this test",
)


def _chromium(*args: str) -> subprocess.CompletedProcess:
    assert CHROMIUM, "chromium is not installed: .ci/run installs it"
    return subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


def test_the_report_renders_in_a_browser(tmp_path):
    invoices = plan_invoices(SCORES, CUSTOMERS, AS_OF, promises=PROMISES)
    published = todays_list(rank_customers(invoices, CUSTOMERS, AS_OF))
    with connect(":memory:") as con:
        rebuild_settlements(con)
        values = report.context(
            con,
            AS_OF.date(),
            invoices,
            published,
            model_version="3",
            champion=None,
            capacity=30,
        )
    page = tmp_path / "report.html"
    page.write_text(report.render(values), encoding="utf-8")

    dom = _chromium("--dump-dom", page.as_uri()).stdout
    assert dom.count("<svg") == 2  # aged balance and cash-in (no sales history: no DSO chart)
    top = dom[dom.index('<table id="top">') : dom.index("</table>", dom.index('<table id="top">'))]
    assert top.count("<tr>") == 1 + len(published)  # header + one row per listed customer
    assert "Delta &lt;script&gt;alert(1)&lt;/script&gt; SARL" in top  # shown as text, not run
    for section in ('id="aged"', 'id="cash"', 'id="chart-aged"', 'id="chart-cash"'):
        assert section in dom

    shot = tmp_path / "report.png"
    _chromium(f"--screenshot={shot}", "--window-size=1280,2400", page.as_uri())
    pixels = imread(shot)
    assert pixels.shape[:2] == (2400, 1280)
    assert pixels.std() > 0.05  # not a blank page
