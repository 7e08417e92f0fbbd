"""The analysis functions behind the notebooks, on hand-written rows with exact expected values.

The book, seen as of 2024-04-01 (AS_OF); each row says why it is there:

| invoice | customer | issue | due | amount | paid | at AS_OF |
|---|---|---|---|---|---|---|
| I1 | C1 | 01-02 | 02-01 | 1000 | 1000 on 02-11 | settled 10 days late; issued on the first day of the 90-day sales window |
| I2 | C1 | 02-01 | 03-02 | 500 | 200 on 03-12 | partial: 300 open, 30 days past due (1–30) |
| I3 | C2 | 03-15 | 04-14 | 800 | – | not due |
| I4 | C2 | 2023-11-01 | 2023-12-01 | 400 | – | 122 days past due (> 90), disputed |
| I5 | C2 | 01-10 | 01-20 | 600 | 600 on 04-05 | the payment after AS_OF is invisible: 72 days past due (61–90) |
| I6 | C1 | 04-01 | 05-01 | 9999 | – | issued on AS_OF: invisible |
| I7 | C1 | 02-15 | 02-20 | 50 | – | 41 days past due (31–60) |
| I8 | C2 | 01-05 | 02-04 | 700 | 700 on 02-01 | paid 3 days early |
| CN | C1 | 03-20 | 03-20 | -100 | – | credit note: never open, not a sale |
"""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from features import lab, receivables
from models import diagnostics
from models.evaluate import BLOCKS, POPULATIONS
from models.metrics import METRIC_NAMES
from pipelines.warehouse import connect, rebuild_settlements

AS_OF = date(2024, 4, 1)

INVOICES = [
    ("I1", "C1", "2024-01-02", "2024-02-01", 1000),
    ("I2", "C1", "2024-02-01", "2024-03-02", 500),
    ("I3", "C2", "2024-03-15", "2024-04-14", 800),
    ("I4", "C2", "2023-11-01", "2023-12-01", 400),
    ("I5", "C2", "2024-01-10", "2024-01-20", 600),
    ("I6", "C1", "2024-04-01", "2024-05-01", 9999),
    ("I7", "C1", "2024-02-15", "2024-02-20", 50),
    ("I8", "C2", "2024-01-05", "2024-02-04", 700),
    ("CN", "C1", "2024-03-20", "2024-03-20", -100),
]
PAYMENTS = [
    ("P1", "I1", "2024-02-11", 1000),
    ("P2", "I2", "2024-03-12", 200),
    ("P5", "I5", "2024-04-05", 600),
    ("P8", "I8", "2024-02-01", 700),
]


@pytest.fixture
def book():
    con = connect(":memory:")
    con.executemany(
        "insert into staging.customers (customer_id, name, segment) values (?, ?, ?)",
        [("C1", "Alpha", "SME"), ("C2", "Beta", "Enterprise")],
    )
    con.executemany(
        "insert into staging.invoices (invoice_id, customer_id, issue_date, due_date, amount, "
        "currency, disputed) values (?, ?, ?, ?, ?, 'EUR', false)",
        INVOICES,
    )
    con.execute("update staging.invoices set disputed = true where invoice_id = 'I4'")
    con.execute(
        "insert into staging.disputes (invoice_id, opened_date) values ('I4', '2023-12-15')"
    )
    con.executemany(
        "insert into staging.payments (payment_id, invoice_id, payment_date, amount) "
        "values (?, ?, ?, ?)",
        PAYMENTS,
    )
    rebuild_settlements(con)
    yield con
    con.close()


# ---------------------------------------------------------------- receivables


def test_age_buckets_boundaries() -> None:
    days = pd.Series([-5, 0, 1, 30, 31, 60, 61, 90, 91])
    assert receivables.age_buckets(days).astype(str).tolist() == [
        "not due", "not due", "1–30", "1–30", "31–60", "31–60", "61–90", "61–90", ">90"
    ]  # fmt: skip


def test_month_starts() -> None:
    assert receivables.month_starts(date(2024, 1, 15), date(2024, 4, 1)) == [
        date(2024, 2, 1),
        date(2024, 3, 1),
        date(2024, 4, 1),
    ]


def test_aged_balance_is_point_in_time(book) -> None:
    balance = receivables.aged_balance(book, AS_OF).set_index("age_bucket")
    # I3 not due; I2 300 left after its partial payment; I7; I5 (its payment is after AS_OF); I4.
    # I1, I8 settled; I6 issued on AS_OF; CN never open.
    assert balance["open_amount"].to_dict() == {
        "not due": 800.0,
        "1–30": 300.0,
        "31–60": 50.0,
        "61–90": 600.0,
        ">90": 400.0,
    }
    assert balance["invoices"].tolist() == [1, 1, 1, 1, 1]
    assert balance["share"].sum() == pytest.approx(1.0)
    assert balance.loc["not due", "share"] == pytest.approx(800 / 2150)


def test_aged_balance_over_time(book) -> None:
    table = receivables.aged_balance_over_time(book, [date(2024, 3, 1), AS_OF])
    march = table.loc[pd.Timestamp("2024-03-01")]
    # On 03-01: I2 not yet due (500), I7 10 days past due, I5 41, I4 91 (2024 is a leap year).
    assert march.to_dict() == {
        "not due": 500.0,
        "1–30": 50.0,
        "31–60": 600.0,
        "61–90": 0.0,
        ">90": 400.0,
        "total": 1550.0,
    }
    assert table.loc[pd.Timestamp(AS_OF), "total"] == 2150.0


def test_dso(book) -> None:
    # Receivables 2150 at AS_OF; sales of the 90 days from 2024-01-02 (I1 on that day counts)
    # to 03-31: I1 1000 + I2 500 + I3 800 + I5 600 + I7 50 + I8 700; not CN, not I6 (on AS_OF).
    assert receivables.dso(book, AS_OF, days=90) == pytest.approx(2150 / 3650 * 90)
    trend = receivables.dso_trend(book, [date(2023, 11, 1), AS_OF], days=90)
    assert trend["sales"].tolist() == [0.0, 3650.0]  # on 11-01, I4 is issued that very day
    assert trend["receivables"].tolist() == [0.0, 2150.0]
    assert np.isnan(trend["dso"].iloc[0])  # no sales yet: no DSO


def test_invoice_lateness(book) -> None:
    frame = receivables.invoice_lateness(book, AS_OF).set_index("invoice_id")
    # Only invoices due before AS_OF; the unpaid ones count days up to AS_OF.
    assert frame["days_late"].to_dict() == {
        "I1": 10, "I2": 30, "I4": 122, "I5": 72, "I7": 41, "I8": -3
    }  # fmt: skip
    assert frame["late"].to_dict() == {
        "I1": True, "I2": True, "I4": True, "I5": True, "I7": True, "I8": False
    }  # fmt: skip
    assert frame.loc[frame["settled"]].index.tolist() == ["I1", "I8"]
    assert frame.loc[frame["disputed"]].index.tolist() == ["I4"]
    assert frame.loc["I1", "terms_band"] == "≤ 30" and frame.loc["I7", "terms_band"] == "≤ 30"


def test_dispute_opened_after_as_of_is_invisible(book) -> None:
    frame = receivables.invoice_lateness(book, date(2023, 12, 10)).set_index("invoice_id")
    assert frame.loc["I4", "disputed"] == False  # noqa: E712 (opened 2023-12-15)


def test_days_late_distribution(book) -> None:
    table = receivables.days_late_distribution(book, AS_OF).set_index("band")
    assert table["invoices"].to_dict() == {
        "early": 1,  # I8
        "on the due date": 0,
        "1–7": 0,
        "8–30": 1,  # I1
        "31–60": 0,
        "61–90": 0,
        ">90": 0,
        "unpaid, overdue": 4,  # I2, I4, I5, I7
    }
    assert table.loc["unpaid, overdue", "amount"] == 500 + 400 + 600 + 50
    assert table["share"].sum() == pytest.approx(1.0)


def test_lateness_by_dispute(book) -> None:
    frame = receivables.invoice_lateness(book, AS_OF)
    table = receivables.lateness_by(frame, "disputed").set_index("disputed")
    assert table.loc[False, "invoices"] == 5 and table.loc[True, "invoices"] == 1
    assert table.loc[False, "share_late"] == pytest.approx(4 / 5)  # all but I8
    assert table.loc[False, "avg_days_late"] == pytest.approx(5.0)  # I1 10, I8 early = 0
    assert table.loc[False, "median_days_late"] == pytest.approx(3.5)  # of 10 and -3
    assert np.isnan(table.loc[True, "avg_days_late"])  # I4 never settled


def test_costliest_customers(book) -> None:
    table = receivables.costliest_customers(book, AS_OF, n=10, annual_rate=0.12)
    table = table.set_index("customer_id")
    # C2: I4 400 × 122 + I5 600 × 72 (its payment is after AS_OF); I8 paid early costs nothing.
    # C1: I1 1000 × 10; I2 200 paid 10 days late + 300 open × 30; I7 50 × 41.
    assert table.index.tolist() == ["C2", "C1"]
    assert table["amount_days_late"].to_dict() == {"C2": 92_000.0, "C1": 23_050.0}
    assert table["late_invoices"].to_dict() == {"C2": 2, "C1": 3}
    assert table["overdue_amount"].to_dict() == {"C2": 1000.0, "C1": 350.0}
    assert table.loc["C2", "delay_cost"] == pytest.approx(92_000 * 0.12 / 365)
    assert table.loc["C1", "name"] == "Alpha"


def test_costliest_customers_since(book) -> None:
    table = receivables.costliest_customers(
        book, AS_OF, n=1, since=date(2024, 3, 1), annual_rate=0.12
    )
    # Only days from 03-01 count: C2 (400 + 600) × 31 = 31,000; C1 would be 12,550.
    assert table["customer_id"].tolist() == ["C2"]
    assert table["amount_days_late"].tolist() == [31_000.0]


# ---------------------------------------------------------------- model quality


def _metrics(value: float) -> dict[str, float]:
    return {name: value for name in METRIC_NAMES} | {"n": 10}


def _blocks(value: float) -> dict:
    return {p: {b: _metrics(value) for b in BLOCKS} for p in POPULATIONS}


def test_backtest_table() -> None:
    table = diagnostics.backtest_table({"2024-01-01": _blocks(0.6)}, _blocks(0.7))
    assert len(table) == 2 * len(POPULATIONS) * len(BLOCKS)
    assert table["cut"].unique().tolist() == ["2024-01-01", "overall"]
    overall = table[(table["cut"] == "overall") & (table["ranking"] == "model")]
    assert overall["auc"].tolist() == [0.7] * len(POPULATIONS)


def test_compare_backtests() -> None:
    results = {
        "baseline": SimpleNamespace(overall=_blocks(0.5)),
        "candidate": SimpleNamespace(overall=_blocks(0.75)),
    }
    table = diagnostics.compare_backtests(results)
    assert "n" not in table["metric"].tolist()
    assert len(table) == len(POPULATIONS) * len(METRIC_NAMES)
    assert table["change"].tolist() == [0.25] * len(table)


PREDICTIONS = pd.DataFrame(
    {
        "invoice_id": ["A1", "A2", "B1", "B1"],
        "customer_id": ["CA", "CA", "CB", "CB"],
        "group": ["A", "A", "B", "B"],
        "open_amount": [100.0, 1000.0, 50.0, 50.0],
        "late_30": [1.0, 0.0, 1.0, np.nan],  # B1's second snapshot: outcome not known yet
        "p_late_30": [0.8, 0.4, 0.5, 0.9],
    }
)


def test_error_by() -> None:
    table = diagnostics.error_by(PREDICTIONS, "group").set_index("group")
    assert table.loc["A"].drop("auc").to_dict() == pytest.approx(
        {"snapshots": 2, "observed": 0.5, "predicted": 0.6, "gap": 0.1, "brier": 0.1}
    )
    assert table.loc["A", "auc"] == 1.0
    # the unlabelled snapshot is left out; one class: no AUC
    assert table.loc["B", "snapshots"] == 1 and table.loc["B", "gap"] == pytest.approx(-0.5)
    assert np.isnan(table.loc["B", "auc"])


def test_largest_misses_weights_by_money() -> None:
    misses = diagnostics.largest_misses(PREDICTIONS, n=2)
    # A2: 0.4 × 1000 = 400; A1: 0.2 × 100 = 20; B1: 0.5 × 50 = 25
    assert misses["invoice_id"].tolist() == ["A2", "B1"]
    assert misses["weighted_miss"].tolist() == pytest.approx([400.0, 25.0])


def test_with_error_segments() -> None:
    predictions = pd.DataFrame(
        {
            "customer_id": ["C1", "C2", "C9"],
            "age_days": [10, 31, 200],
            "days_past_due": [0, 31, 120],
            "open_amount": [10.0, 20.0, 30.0],
        }
    )
    customers = pd.DataFrame(
        {"customer_id": ["C1", "C2"], "segment": ["SME", "Enterprise"], "country": ["FR", "BE"]}
    )
    frame = diagnostics.with_error_segments(predictions, customers)
    assert frame["segment"].tolist()[:2] == ["SME", "Enterprise"]
    assert pd.isna(frame["segment"].iloc[2])  # unknown customer
    assert frame["age_band"].astype(str).tolist() == ["0–30 days", "31–60 days", ">180 days"]
    assert frame["overdue_bucket"].astype(str).tolist() == ["not due", "31–60", ">90"]
    assert frame["amount_band"].notna().all()


# ---------------------------------------------------------------- feature lab


FEATURES = pd.DataFrame(
    {
        "invoice_id": ["I1", "I2", "I1"],
        "customer_id": ["C1", "C2", "C1"],
        "as_of": pd.to_datetime(["2024-03-01", "2024-03-01", "2024-04-01"]),
        "amount": [1.0, 2.0, 1.0],
    },
    index=[10, 11, 12],
)


def test_candidate_feature_reads_the_dates(book) -> None:
    sql = """
        select c.customer_id, d.as_of, count(*) as invoices_before
        from as_of_dates as d
        join staging.invoices as i on i.issue_date < d.as_of
        join staging.customers as c using (customer_id)
        group by c.customer_id, d.as_of
    """
    frame = lab.candidate_feature(book, sql, [date(2024, 1, 6), date(2024, 1, 6)])
    frame = frame.sort_values("customer_id").reset_index(drop=True)
    # before 01-06: I4 (C2), I1 (C1), I8 (C2, issued 01-05)
    assert frame["invoices_before"].tolist() == [1, 2]
    assert frame["as_of"].tolist() == [pd.Timestamp("2024-01-06")] * 2


def test_add_feature_joins_on_its_keys() -> None:
    candidate = pd.DataFrame(
        {
            "customer_id": ["C1", "C2"],
            "as_of": pd.to_datetime(["2024-03-01", "2024-03-01"]),
            "new_feature": [5.0, 7.0],
        }
    )
    merged = lab.add_feature(FEATURES, candidate)
    assert merged.index.tolist() == [10, 11, 12]  # rows and index kept
    assert merged["new_feature"].tolist()[:2] == [5.0, 7.0]
    assert np.isnan(merged["new_feature"].iloc[2])  # no value at 04-01


def test_add_feature_refuses_an_existing_column() -> None:
    candidate = FEATURES[["customer_id", "as_of", "amount"]].drop_duplicates(
        ["customer_id", "as_of"]
    )
    with pytest.raises(ValueError, match="already features"):
        lab.add_feature(FEATURES, candidate)


def test_signal_by_quantile() -> None:
    frame = pd.DataFrame(
        {
            "x": [1.0, 2.0, 3.0, 4.0, np.nan, 5.0],
            "late_30": [0.0, 0.0, 1.0, 1.0, 1.0, np.nan],  # the last row: outcome not known
        }
    )
    table = lab.signal_by_quantile(frame, "x", q=2)
    assert table["snapshots"].tolist() == [2, 2, 1]
    assert table["observed"].tolist() == [0.0, 1.0, 1.0]
    assert table["band"].iloc[-1] == "missing"
