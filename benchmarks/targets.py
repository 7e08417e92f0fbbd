"""The targets of the benchmark issue, and the verdict of a run on each of them.

Pure functions of a run's figures (the dict `run.py` builds and RESULTS.md records): every row is
(what, target, figure, verdict), the verdict "met" or "NOT met (...)" with the gap.
"""

from __future__ import annotations

from quality import QUALITY_AGE_DAYS

# Targets of the benchmark issues (2 cores): latepay's stage against the least work it could do
# (references.py), measured in the same run, and training in seconds.
TARGET_INGEST_RATIO = 3.0  # ingest / plain DuckDB load of the same files
TARGET_FEATURES_RATIO = 3.0  # features / window pass with payments
TARGET_NIGHTLY_RATIO = 2.0  # nightly / (window pass + bare predict)
TARGET_TRAIN_S = 600.0
TARGET_PEAK_RSS_GB = 8.0
TARGET_AUC_GAP = -0.03
TARGET_SCALING = 12.0

Row = tuple[str, str, str, str]


def evaluate_targets(run: dict) -> list[Row]:
    """(what, target, figure, verdict) for every target of the issue."""
    rows = [
        ratio_row(
            run, "ingest", ("plain_load",), "ingest + validate / plain load", TARGET_INGEST_RATIO
        ),
        ratio_row(
            run, "features", ("window_pass",), "features / window pass", TARGET_FEATURES_RATIO
        ),
        seconds_row(run, "train", "training set + training", TARGET_TRAIN_S),
        ratio_row(
            run,
            "score",
            ("window_pass", "bare_predict"),
            "nightly / (window pass + bare predict)",
            TARGET_NIGHTLY_RATIO,
        ),
    ]
    peak = peak_rss_row(run)
    if peak is not None:
        rows.append(peak)
    rows.append(auc_gap_row(run))
    return rows


def seconds_row(run: dict, name: str, label: str, limit: float) -> Row:
    """A stage's wall time against a limit in seconds."""
    s = stage_of(run, name)
    if not _ok(s):
        status = s["status"] if s else "not run"
        return (label, f"≤ {limit:.0f} s", "–", f"NOT met (stage {status})")
    wall = s["wall_s"]
    return (
        label,
        f"≤ {limit:.0f} s",
        f"{wall:.1f} s",
        _verdict(wall <= limit, f"+{wall - limit:.1f} s, {wall / limit:.1f}× the target"),
    )


def ratio_row(run: dict, name: str, references: tuple[str, ...], label: str, limit: float) -> Row:
    """A stage's wall time over the sum of its references' timed parts (their `query_s`: the
    work alone, without the child's start), with the ratio to the references' process walls."""
    stage, refs = stage_of(run, name), [stage_of(run, r) for r in references]
    target = f"≤ {limit:g}×"
    if not (_ok(stage) and all(_ok(r) and r["extra"].get("query_s") for r in refs)):
        names, figures = (name, *references), (stage, *refs)
        missing = [n for n, r in zip(names, figures, strict=True) if not _ok(r)]
        return (label, target, "–", f"NOT met (did not run: {', '.join(missing)})")
    ratio = stage["wall_s"] / sum(r["extra"]["query_s"] for r in refs)
    proc_ratio = stage["wall_s"] / sum(r["wall_s"] for r in refs)
    figure = f"{ratio:.1f}× ({proc_ratio:.1f}× the references' process walls)"
    return (label, target, figure, _verdict(ratio <= limit, f"{ratio / limit:.1f}× over"))


def peak_rss_row(run: dict) -> Row | None:
    """The highest peak RSS of any stage (None when no stage was measured); a stage killed at
    the memory cap fails the target whatever the figure."""
    measured = [s for s in run["stages"] if s["peak_rss_gb"] is not None]
    if not measured:
        return None
    worst = max(measured, key=lambda s: s["peak_rss_gb"])
    peak = worst["peak_rss_gb"]
    capped = [s["name"] for s in run["stages"] if "memory" in s["status"]]
    figure = f"{peak:.2f} GB ({worst['name']})"
    met = peak <= TARGET_PEAK_RSS_GB and not capped
    gap = f"+{peak - TARGET_PEAK_RSS_GB:.2f} GB" if peak > TARGET_PEAK_RSS_GB else ""
    if capped:
        gap = (gap + "; " if gap else "") + f"killed at the memory cap: {', '.join(capped)}"
    return ("peak RSS (any stage)", f"≤ {TARGET_PEAK_RSS_GB:g} GB", figure, _verdict(met, gap))


def auc_gap_row(run: dict) -> Row:
    """Model AUC minus oracle AUC at the quality age."""
    q = run.get("quality") or {}
    label = f"AUC gap at age {QUALITY_AGE_DAYS} (model − oracle)"
    if "gap" not in q:
        return (label, f"≥ {TARGET_AUC_GAP:+.2f}", "–", "NOT met (not measured)")
    figure = (
        f"{q['gap']:+.3f} ({q['model_auc']:.3f} vs {q['oracle_auc']:.3f}, {q['rows']:,.0f} rows)"
    )
    return (
        label,
        f"≥ {TARGET_AUC_GAP:+.2f}",
        figure,
        _verdict(q["gap"] >= TARGET_AUC_GAP, f"{q['gap'] - TARGET_AUC_GAP:+.3f}"),
    )


def scaling(run: dict, base: dict) -> list[Row]:
    """Per-stage wall-time ratio of `run` over `base` (a run with a tenth of the invoices)."""
    return [
        scaling_row(run, base, s)
        for s in run["stages"]
        if not (s["name"] == "generate" and s["status"] == "cached")
    ]


def scaling_row(run: dict, base: dict, s: dict) -> Row:
    """One stage's wall time against the same stage's in `base`."""
    b = stage_of(base, s["name"])
    label = f"{s['name']}: {run['invoices'] // base['invoices']}× invoices"
    limit = f"≤ {TARGET_SCALING:g}×"
    if _ok(s) and _ok(b) and b["wall_s"] > 0:
        ratio = s["wall_s"] / b["wall_s"]
        return (
            label,
            limit,
            f"{ratio:.1f}× ({b['wall_s']:.1f} → {s['wall_s']:.1f} s)",
            _verdict(ratio <= TARGET_SCALING, f"{ratio / TARGET_SCALING:.1f}× over"),
        )
    if _ok(s) and b is not None and b["status"] == "cached":
        return (label, limit, "–", "not measured (cached in base)")
    why = s["status"] if not _ok(s) else (b["status"] if b else "not run") + " in base"
    return (label, limit, "–", f"NOT met (no figure: {why})")


def stage_of(run: dict, name: str) -> dict | None:
    """The recorded figures of one stage of a run (None when it did not run)."""
    return next((s for s in run["stages"] if s["name"] == name), None)


def _ok(stage: dict | None) -> bool:
    return stage is not None and stage["status"] == "ok" and stage["wall_s"] is not None


def _verdict(met: bool, gap: str) -> str:
    return "met" if met else f"NOT met (gap: {gap})"
