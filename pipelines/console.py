"""What the CLI prints: the reconciliation, backtests, tuning, registration and the worklist.

Text from the data (file names, customer names, collectors, reasons) is printed as rich `Text`,
never parsed as console markup, so a name such as "[link=…]" stays a name, and with its control
characters shown as \\xNN, so an escape sequence in the data never reaches the terminal.
"""

from __future__ import annotations

import math
import re

import pandas as pd
from rich.console import Console
from rich.table import Table
from rich.text import Text

from pipelines.ingest import LoadResult

console = Console()
# C0 controls but tab and newline, DEL and C1 controls: escape sequences, bells, carriage returns
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def data_text(value: object = "", style: str = "") -> Text:
    """Text from the data, printed as it is: never markup, control characters as \\xNN."""
    return Text(CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", str(value)), style=style)


RANKINGS = {
    "model": "latepay",
    "baseline_aging": "aging list",
    "baseline_prior_late_rate": "prior late rate",
}


def error(message: str) -> None:
    console.print(Text("error: ", style="bold red") + data_text(message))


def plain(message: str) -> None:
    """A line that may hold text from the data: printed as is, wrapped softly."""
    console.print(data_text(message), soft_wrap=True)


def loads(results: list[LoadResult]) -> None:
    table = Table(title="Reconciliation: rows read = loaded + pending + rejected")
    for column in ("file", "kind", "read", "loaded", "pending", "rejected", ""):
        numeric = column in ("read", "loaded", "pending", "rejected")
        table.add_column(
            column, justify="right" if numeric else "left", overflow="fold", no_wrap=numeric
        )
    for r in results:
        table.add_row(
            data_text(str(r.file)),
            r.kind,
            f"{r.rows_read:,}",
            f"{r.rows_loaded:,}",
            f"{r.rows_pending:,}",
            f"{r.rows_rejected:,}",
            "; ".join(_load_notes(r)),
        )
    console.print(table)
    for r in results:
        if r.source_format and not r.skipped:
            plain(f"{r.file}: read as {r.source_format}")
    for r in results:
        if r.kind == "invoices" and not r.skipped:  # (checked on every invoice loaded)
            n = r.terms_over_cap
            plain(
                f"{r.file}: {n:,} invoice{'' if n == 1 else 's'} with payment terms over the "
                "French caps (60 days, or 45 days end of month)"
            )
    for r in results:
        if r.open_items_date and not r.skipped:
            plain(
                f"{r.file}: open items of {r.open_items_date}: {r.settled_by_absence:,} settled "
                f"by absence, {r.reopened:,} reopened, {r.partially_paid:,} partly paid and "
                f"{r.payments_reversed:,} payments reversed (from open_amount)"
            )
    if any(r.open_items_date and not r.skipped for r in results):
        console.print(
            "Open items: an invoice of the previous open-items export absent from this one is "
            "settled on its date (payment `<invoice_id>#closed-<date>`); one listed again is "
            "reopened. Every change, with its reason, is in the warehouse table `open_item_events`."
        )
    _rejects(results)


def _load_notes(r: LoadResult) -> list[str]:
    notes = []
    if r.skipped:
        notes.append("already loaded: unchanged")
    if r.rows_updated:
        notes.append(f"{r.rows_updated:,} updated (previous versions kept)")
    if r.payments_derived:
        notes.append(f"{r.payments_derived:,} payments from settlement dates")
    if r.payments_matched:
        notes.append(f"{r.payments_matched:,} pending payments matched")
    if r.payments_on_account:
        notes.append(f"{r.payments_on_account:,} payments on account (no invoice)")
    if r.actions_matched:
        notes.append(f"{r.actions_matched:,} pending actions matched")
    if r.open_items_date:
        notes.append(f"open items of {r.open_items_date}")
    return notes


def _rejects(results: list[LoadResult]) -> None:
    for r in results:
        if r.rows_rejected and not r.skipped:
            rules = ", ".join(f"{rule} {n:,}" for rule, n in r.rejects_by_rule)
            console.print(
                data_text(str(r.file), style="bold") + data_text(f": rejected by rule: {rules}")
            )
            for example in r.reject_examples:
                plain(f"  {r.file}: {example}")
    if any(r.rows_rejected and not r.skipped for r in results):
        console.print(
            "Every rejected row, with its file, line, rule, message and original text, is in "
            "the warehouse table `rejects`."
        )
    if any(r.rows_pending and not r.skipped for r in results):
        console.print(
            "Pending rows name an invoice (or a customer) not loaded yet; they wait in "
            "`staging.pending_payments`, `pending_promises` or `pending_actions` and are matched "
            "when it arrives."
        )


def backtest(result) -> None:
    """A models.backtest.BacktestResult: every population, the model beside both baselines."""
    from models.evaluate import POPULATIONS  # (scikit-learn: not for `latepay ingest`)

    cuts = ", ".join(c.isoformat() for c in result.cuts)
    table = Table(title=f"Backtest, rolling origin: cuts {cuts}; data end {result.data_end}")
    columns = ("ranking", "AUC", "AUC 90% interval", "PR-AUC", "Brier", "ECE", "top 10%", "top 20%")
    for column in columns:
        table.add_column(column, justify="left" if column == "ranking" else "right")
    for population, label in POPULATIONS.items():
        blocks = result.overall[population]
        table.add_section()
        table.add_row(f"[bold]{label}[/], n={blocks['model']['n']:,}")
        for block, name in RANKINGS.items():
            m = blocks[block]
            table.add_row(
                f"  {name}",
                _number(m["auc"]),
                _auc_interval(m),
                *(_number(m[k]) for k in ("pr_auc", "brier", "ece")),
                *(_number(m[k], "{:.0%}") for k in ("capture_top10", "capture_top20")),
            )
    console.print(table)
    if "days_late_at_issue" in result.overall:
        _days_late(result.overall["days_late_at_issue"])
    console.print("top 10% / 20%: share of the late amount in the top of each day's list.")
    console.print(
        "AUC 90% interval: percentile bootstrap, 200 resamples of the test customers "
        "(not computed above 100,000 test snapshots)."
    )


def _days_late(d: dict) -> None:
    """The payment-date forecast at issue beside the customer's median (models/days_late.py)."""
    table = Table(
        title=f"Days late at issue (first snapshot, n={d['n']:,}; capped at {d['cap_days']} "
        f"days: {_number(d['censored'], '{:.0%}')} unpaid at the cap)"
    )
    for column in ("prediction", "mean abs. error, days", "within ±3 days", "P10–P90 coverage"):
        table.add_column(column, justify="left" if column == "prediction" else "right")
    m, b = d["model"], d["baseline_customer_median"]
    table.add_row(
        "latepay (P50 payment date)",
        _number(m["mae_days"], "{:.1f}"),
        _number(m["within_3_days"], "{:.0%}"),
        _number(m["p10_p90_coverage"], "{:.0%}"),
    )
    table.add_row(
        "customer's median days late so far",
        _number(b["mae_days"], "{:.1f}"),
        _number(b["within_3_days"], "{:.0%}"),
        "–",
    )
    console.print(table)


def _auc_interval(m: dict) -> str:
    """The bootstrap interval of a block's AUC (models.evaluate.with_auc_intervals), or –."""
    low, high = m.get("auc_low"), m.get("auc_high")
    if low is None or high is None or math.isnan(low) or math.isnan(high):
        return "–"
    return f"{low:.3f}–{high:.3f}"


def _number(value: float | None, pattern: str = "{:.3f}") -> str:
    return "–" if value is None or math.isnan(value) else pattern.format(value)


def tuning(result) -> None:
    """A models.tune.Tuning: one row per trial, the chosen one in bold."""
    from models.tune import TUNING_METRICS

    table = Table(
        title=f"Tuning: trained before {result.cut}, validated up to {result.end} "
        "(before the backtest's test periods)"
    )
    columns = [c for c in result.trials.columns if c not in TUNING_METRICS]
    for column in ["trial", *columns]:
        table.add_column(column.replace("_", " "), justify="right")
    best = result.trials["score"].idxmax()
    for i, row in result.trials.iterrows():
        cells = [str(i + 1), *(f"{row[c]:g}" if c != "score" else f"{row[c]:.4f}" for c in columns)]
        table.add_row(*cells, style="bold" if i == best else None)
    console.print(table)
    console.print(
        f"score: mean AUC of lateness (not yet due) and serious lateness; trial {best + 1} chosen "
        "(the first is the defaults)."
    )


def registered(model_name: str, result) -> None:
    """A pipelines.jobs.train.TrainResult: the gate's comparison and the registered version."""
    from models.promotion import GATE_METRIC

    r = result.registered
    status = "now champion" if r.promoted else "not promoted: the champion's backtest is better"
    if result.champion_score is not None:
        new = result.backtest.flat_metrics()[GATE_METRIC]
        console.print(
            f"Champion gate ({GATE_METRIC}, same backtest): new model {new:.4f}, "
            f"current champion {result.champion_score:.4f}"
        )
    plain(
        f"Model '{model_name}' version {r.version} ({status}); "
        f"trained on {result.training_rows:,} snapshots; MLflow run {r.run_id}"
    )


def _date_text(value) -> str:
    return "–" if pd.isna(value) else f"{value:%Y-%m-%d}"


def worklist(result, rows: int = 10) -> None:
    """A pipelines.jobs.score.ScoreResult: the top of today's list and where it was published."""
    listed = result.published
    table = Table(
        title=f"Worklist as of {result.as_of}: top {min(rows, len(listed))} of {len(listed):,} "
        f"customers listed today ({len(result.worklist):,} with open invoices)"
    )
    for column in ("#", "customer", "collector", "at risk", "next action"):
        table.add_column(column, justify="right" if column in ("#", "at risk") else "left")
    table.add_column("why", overflow="fold")
    for row in listed.head(rows).itertuples():
        table.add_row(
            str(row.rank),
            data_text(str(row.name)),
            data_text(str(row.collector)),
            f"{row.expected_amount_at_risk:,.0f} ({row.risk_probability:.0%})",
            data_text(
                f"{row.next_action} ({_date_text(row.next_action_date)}, {row.next_action_channel})"
            ),
            data_text(str(row.reason_1)),
        )
    console.print(table)
    files = sorted(p.name for p in result.output_dir.iterdir())
    plain(
        f"Scored {result.invoices_scored:,} open invoices with model version "
        f"{result.model_version} (run {result.run_id}). Published in {result.output_dir}/: "
        + ", ".join(files)
    )


def monitoring(result) -> None:
    """A pipelines.jobs.monitor.MonitorResult: realised accuracy over 4 and 13 weeks, the most
    drifting features, the alerts."""
    from models.evaluate import POPULATIONS

    windows = result.realised[result.realised["window"] != "day"]
    table = Table(
        title=f"Realised accuracy of the published lists, outcomes known at {result.as_of}"
    )
    for column in (
        "target",
        "window",
        "n",
        "AUC",
        "AUC aging",
        "Brier",
        "top 20%",
        "top 20% aging",
    ):
        table.add_column(column, justify="left" if column in ("target", "window") else "right")
    for row in windows.itertuples():
        table.add_row(
            POPULATIONS.get(row.target, row.target), row.window, f"{row.n:,}",
            _number(row.auc), _number(row.auc_aging), _number(row.brier),
            _number(row.capture_top20, "{:.0%}"), _number(row.capture_top20_aging, "{:.0%}"),
        )  # fmt: skip
    console.print(table)
    if len(result.drift):
        top = result.drift.head(5)
        plain("Most drifting features (PSI against the training snapshots): " + ", ".join(
            f"{r.feature} {r.psi:.2f}" for r in top.itertuples()))  # fmt: skip
    for alert in result.alerts:
        console.print(Text("warning: ", style="bold yellow") + data_text(alert))
    if not result.alerts:
        plain("No alert: the lists rank as well as in the backtest and the book has not drifted.")
