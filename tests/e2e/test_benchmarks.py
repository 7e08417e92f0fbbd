"""The benchmark harness: a whole run on a tiny book, and the RESULTS.md section it writes."""

from __future__ import annotations

import importlib
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BENCHMARKS = REPO / "benchmarks"
SCRIPT = BENCHMARKS / "run.py"


def _benchmarks_on_path() -> None:
    """benchmarks/ is not a package: `python benchmarks/run.py` has the script's folder on
    sys.path and its modules (harness, stages, quality, targets, record) import each other by
    name. The same here."""
    if str(BENCHMARKS) not in sys.path:
        sys.path.insert(0, str(BENCHMARKS))


def _script():
    """benchmarks/run.py loaded from its file, as a module named `bench_run`."""
    _benchmarks_on_path()
    spec = importlib.util.spec_from_file_location("bench_run", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_run"] = module
    spec.loader.exec_module(module)
    return module


_benchmarks_on_path()
record = importlib.import_module("record")
stages = importlib.import_module("stages")


def _stage(name, status="ok", wall=1.0, cpu=1.0, rss=0.5, note="", extra=None):
    return {
        "name": name,
        "status": status,
        "wall_s": wall,
        "cpu_s": cpu,
        "peak_rss_gb": rss,
        "note": note,
        "extra": extra or {},
        "stderr_tail": "",
    }


def _run(invoices, stage_rows, quality=None):
    return {
        "date": "2026-11-22 21:00",
        "cores": 2,
        "ram_gb": 23.5,
        "load_avg": 1.25,
        "invoices": invoices,
        "customers": invoices // 50,
        "seed": 0,
        "commit": "abc1234",
        "command": f".venv/bin/python benchmarks/run.py --invoices {invoices}",
        "mem_cap_gb": 20.0,
        "timeout_s": 1800.0,
        "stages": stage_rows,
        "quality": quality or {},
    }


def _one_million_base():
    """A 1M run: the base of the 10M run below."""
    return _run(
        1_000_000,
        [
            _stage("ingest", wall=10.0),
            _stage("features", wall=4.0),
            _stage("window_pass", wall=1.0, extra={"query_s": 0.5}),
            _stage("train", wall=100.0),
        ],
    )


def _ten_million_run():
    """A 10M run whose book was cached and whose training was killed at the memory cap."""
    quality = {"rows": 2000.0, "late_share": 0.3, "model_auc": 0.70, "oracle_auc": 0.75}
    quality["gap"] = quality["model_auc"] - quality["oracle_auc"]
    return _run(
        10_000_000,
        [
            _stage("generate", status="cached", wall=None, cpu=None, rss=None, note="book"),
            _stage("ingest", wall=50.0, cpu=80.0, rss=1.5),
            _stage("plain_load", wall=12.0, extra={"query_s": 10.0}),
            _stage("features", wall=30.0),
            _stage("window_pass", wall=6.0, extra={"query_s": 5.0}),
            _stage("train", status="killed: memory cap (20 GB RSS)", wall=700.0, rss=20.1),
            _stage("score", wall=13.0),
        ],
        quality,
    )


def test_section_lines_for_given_figures() -> None:
    lines = record.format_section(_ten_million_run(), _one_million_base()).splitlines()
    assert lines[0] == "## 10,000,000 invoices, seed 0 — 2026-11-22 21:00"
    assert (
        "- machine: 2 cores, 23.5 GB RAM, load average 1.25 at start; memory cap 20 GB, timeout 1800 s per stage"
        in lines
    )
    assert "- commit: `abc1234`" in lines
    assert "| generate | cached | – | – | – | book |" in lines
    assert "| ingest | ok | 50.0 | 80.0 | 1.50 |  |" in lines
    assert (
        "| ingest + validate / plain load | ≤ 3× | 5.0× (4.2× the references' process walls) "
        "| NOT met (gap: 1.7× over) |" in lines
    )
    assert (
        "| features / window pass | ≤ 3× | 6.0× (5.0× the references' process walls) "
        "| NOT met (gap: 2.0× over) |" in lines
    )
    assert (
        "| training set + training | ≤ 600 s | – "
        "| NOT met (stage killed: memory cap (20 GB RSS)) |" in lines
    )
    # the nightly's references are the window pass and a bare predict, which did not run
    assert (
        "| nightly / (window pass + bare predict) | ≤ 2× | – "
        "| NOT met (did not run: bare_predict) |" in lines
    )
    assert (
        "| peak RSS (any stage) | ≤ 8 GB | 20.10 GB (train) "
        "| NOT met (gap: +12.10 GB; killed at the memory cap: train) |" in lines
    )
    assert (
        "| AUC gap at age 1 (model − oracle) | ≥ -0.03 | -0.050 (0.700 vs 0.750, 2,000 rows) "
        "| NOT met (gap: -0.020) |" in lines
    )
    assert "| ingest: 10× invoices | ≤ 12× | 5.0× (10.0 → 50.0 s) | met |" in lines
    assert "| features: 10× invoices | ≤ 12× | 7.5× (4.0 → 30.0 s) | met |" in lines
    assert (
        "| train: 10× invoices | ≤ 12× | – | NOT met (no figure: killed: memory cap (20 GB RSS)) |"
        in lines
    )
    assert not any(line.startswith("| generate: 10×") for line in lines)


def test_the_section_record_finds_the_base_run(tmp_path: Path) -> None:
    """The section carries a machine-readable record, which finds the 1M base of a 10M run."""
    base = _one_million_base()
    results = tmp_path / "RESULTS.md"
    record.append_section(results, record.format_section(base))
    record.append_section(results, record.format_section(_ten_million_run(), base))
    assert results.read_text(encoding="utf-8").startswith("# Benchmark results")
    assert [r["invoices"] for r in record.recorded_runs(results)] == [1_000_000, 10_000_000]
    assert record.base_run(results, 10_000_000, 0)["date"] == base["date"]
    assert record.base_run(results, 10_000_000, 1) is None
    assert record.base_run(results, 10_000_000, 0, per_customer=25) is None  # another shape


def test_script_loads_as_a_module() -> None:
    bench = _script()
    assert bench.parse_args([]).stages == ",".join(stages.STAGES)
    assert bench.format_section is record.format_section


@pytest.mark.slow
def test_help() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--help"], capture_output=True, text=True, check=True
    )
    assert "--invoices" in done.stdout and "--no-record" in done.stdout


@pytest.mark.slow
def test_every_stage_runs_on_a_tiny_book(tmp_path: Path) -> None:
    """Nine processes (six of latepay, three references) on a 3,000-invoice book: about a minute."""
    figures = tmp_path / "run.json"
    results = REPO / "benchmarks" / "RESULTS.md"
    before = results.read_bytes() if results.exists() else None
    done = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--invoices=3000",
            f"--root={tmp_path}",
            "--no-record",
            f"--json={figures}",
            "--timeout=300",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    run = json.loads(figures.read_text(encoding="utf-8"))
    assert [s["name"] for s in run["stages"]] == list(stages.STAGES)
    for s in run["stages"]:
        assert s["status"] == "ok", s
        assert s["wall_s"] > 0 and s["cpu_s"] > 0 and s["peak_rss_gb"] > 0, s
    for reference in ("plain_load", "window_pass", "bare_predict"):
        assert next(s for s in run["stages"] if s["name"] == reference)["extra"]["query_s"] > 0
    assert 0.5 < run["quality"]["oracle_auc"] <= 1 and 0 < run["quality"]["model_auc"] <= 1
    # the same rows, split by the generator's archetype (where the model falls short)
    groups = run["quality"]["by_archetype"]
    assert sum(g["rows"] for g in groups.values()) == run["quality"]["rows"]
    assert {"reliable", "habitually_late"} <= set(groups) <= {
        "reliable", "habitually_late", "end_of_month", "disputer",
        "deteriorating, in trouble", "deteriorating, not yet",
    }  # fmt: skip
    assert (tmp_path / "books" / "3000-0" / "oracle.csv").exists()
    assert (results.read_bytes() if results.exists() else None) == before  # --no-record


def test_small_books_section_for_given_figures(tmp_path: Path) -> None:
    """benchmarks/small_books.py: one row per book and population, the model's interval, the
    verdict; its record is not mistaken for a scale run's."""
    small_books = importlib.import_module("small_books")

    def block(auc, low=None, high=None):
        return {"auc": auc, "auc_low": low, "auc_high": high, "n": 1200}

    aucs = {
        p: {
            "model": block(0.78, 0.72, 0.83),
            "baseline_aging": block(0.70),
            "baseline_prior_late_rate": block(0.80 if p == "late_age_1" else 0.65),
        }
        for p in small_books.POPULATIONS
    }
    runs = [
        {"seed": 3, "shape": "full", "aucs": aucs},
        {"seed": 3, "shape": "no-customers", "error": "ingest failed (exit 1): x"},
    ]
    text = small_books.section(runs, "cmd --seeds 3")
    assert "- command: `cmd --seeds 3`" in text
    model = "1,200 | 0.780 (0.720–0.830) | 0.700"
    assert f"| full | 3 | seriously late | {model} | 0.650 | yes |" in text
    assert f"| full | 3 | late, issued the day before | {model} | 0.800 | NO |" in text
    assert "| no-customers | 3 | failed: ingest failed (exit 1): x |" in text
    assert "seriously late 1/1; late, not yet due 1/1; late, issued the day before 0/1" in text
    results = tmp_path / "RESULTS.md"
    results.write_text(text, encoding="utf-8")
    assert record.recorded_runs(results) == []
