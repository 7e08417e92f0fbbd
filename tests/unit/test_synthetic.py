"""Tests of the synthetic receivables generator (the ``synthetic`` package)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from synthetic import (
    ARCHETYPES,
    CUSTOMER_COLUMNS,
    INVOICE_COLUMNS,
    ORACLE_COLUMNS,
    PAYMENT_COLUMNS,
    PROMISE_COLUMNS,
    Book,
    generate_book,
    write_book,
)
from synthetic.actions import ACTION_COLUMNS

END = date(2026, 10, 31)
END_TS = pd.Timestamp(END)


@pytest.fixture(scope="module")
def book() -> Book:
    return generate_book(1_500, 40_000, seed=7, end_date=END)


@pytest.fixture(scope="module")
def outcomes(book: Book) -> pd.DataFrame:
    """Invoice-level outcome as observable at END from the three input tables only.

    late = settled after due date, or unpaid with the due date already past; known = settled, or
    due date past (an unpaid invoice not yet due has an unknown outcome).
    """
    inv = book.invoices[book.invoices["amount"] > 0]
    paid = book.payments.groupby("invoice_id").agg(
        paid=("amount", "sum"), last_payment=("payment_date", "max")
    )
    df = inv.merge(paid, left_on="invoice_id", right_index=True, how="left")
    df["paid"] = df["paid"].fillna(0.0)
    settled = df["paid"] >= df["amount"] - 0.005
    past_due = df["due_date"] < END_TS
    df["settled"] = settled
    df["known"] = settled | past_due
    df["late"] = np.where(settled, df["last_payment"] > df["due_date"], past_due)
    return df.merge(book.oracle, on="invoice_id", how="left", validate="one_to_one")


# ---------------------------------------------------------------- determinism, shapes, keys
def test_same_seed_same_book_and_other_seed_differs() -> None:
    a = generate_book(200, 3_000, seed=3, end_date=END)
    b = generate_book(200, 3_000, seed=3, end_date=END)
    c = generate_book(200, 3_000, seed=4, end_date=END)
    for name in ("customers", "invoices", "payments", "promises", "actions", "oracle"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name))
    assert not a.invoices["amount"].equals(c.invoices["amount"])
    assert not a.customers["name"].equals(c.customers["name"])


def test_same_seed_same_csv_bytes(tmp_path: Path) -> None:
    a = write_book(generate_book(100, 2_000, seed=5, end_date=END), tmp_path / "a")
    b = write_book(generate_book(100, 2_000, seed=5, end_date=END), tmp_path / "b")
    for name in a:
        assert a[name].read_bytes() == b[name].read_bytes()


def test_shapes_columns_and_keys(book: Book) -> None:
    assert list(book.customers.columns) == CUSTOMER_COLUMNS
    assert list(book.invoices.columns) == INVOICE_COLUMNS
    assert list(book.payments.columns) == PAYMENT_COLUMNS
    assert list(book.oracle.columns) == ORACLE_COLUMNS
    assert len(book.customers) == 1_500
    assert len(book.invoices) == 40_000
    assert book.customers["customer_id"].is_unique
    assert book.invoices["invoice_id"].is_unique
    assert book.payments["payment_id"].is_unique
    assert book.customers["customer_id"].iloc[0] == "C00001"
    assert book.invoices["invoice_id"].iloc[0] == "INV-0000001"
    assert set(book.invoices["customer_id"]) == set(book.customers["customer_id"])
    assert set(book.payments["invoice_id"]) <= set(book.invoices["invoice_id"])


def test_customer_attributes(book: Book) -> None:
    c = book.customers
    assert set(c["country"]) <= {"FR", "BE", "DE", "ES", "IT", "GB", "NL"}
    assert c["country"].value_counts().idxmax() == "FR"
    assert set(c["segment"]) == {"SME", "Mid-market", "Enterprise", "Public sector"}
    assert set(c["payment_terms_days"]) == {30, 45, 60}
    assert c["preferred_channel"].value_counts().idxmax() == "email"
    assert 2 <= c["collector"].nunique() <= 12
    assert c["name"].str.contains(",").any()
    assert c["name"].str.contains("[éèàâüöäÉ]", regex=True).any()


def test_invoice_dates_terms_and_order(book: Book) -> None:
    inv = book.invoices.merge(book.customers, on="customer_id")
    assert (inv["due_date"] >= inv["issue_date"]).all()
    assert inv["issue_date"].min() >= END_TS - pd.Timedelta(days=round(3 * 365.25))
    assert inv["issue_date"].max() <= END_TS
    reg = inv[inv["amount"] > 0]
    term = (reg["due_date"] - reg["issue_date"]).dt.days
    net = reg["payment_terms"].isin(["net30", "net60"])
    assert (term[net] == reg.loc[net, "payment_terms_days"]).all()
    eom = reg[reg["payment_terms"] == "45eom"]
    expected = (eom["issue_date"] + pd.Timedelta(days=45)) + pd.offsets.MonthEnd(0)
    assert (eom["due_date"] == expected).all()
    key = book.invoices[["issue_date", "invoice_id"]]
    assert key.equals(key.sort_values(["issue_date", "invoice_id"]))
    # Seasonality: far fewer invoices on Sundays and in August than a flat calendar gives.
    weekday = book.invoices["issue_date"].dt.day_of_week
    assert (weekday == 6).mean() < 0.03
    month = book.invoices["issue_date"].dt.month
    assert (month == 8).mean() < (month == 9).mean() * 0.8


def test_customer_volume_is_heterogeneous(book: Book) -> None:
    counts = book.invoices["customer_id"].value_counts()
    assert counts.min() >= 1
    assert counts.max() > 10 * counts.median()


def test_no_date_after_end(book: Book) -> None:
    assert book.invoices["issue_date"].max() <= END_TS
    assert book.invoices["dispute_opened_date"].max() <= END_TS
    assert book.payments["payment_date"].max() <= END_TS


def test_disputes_are_dated_consistently(book: Book) -> None:
    inv = book.invoices
    d = inv[inv["disputed"] == 1]
    assert inv.loc[inv["disputed"] == 0, "dispute_opened_date"].isna().all()
    assert d["dispute_opened_date"].notna().all()
    assert (d["dispute_opened_date"] >= d["issue_date"]).all()
    assert (d["dispute_opened_date"] <= d["due_date"] + pd.Timedelta(days=20)).all()
    assert 0.03 < inv["disputed"].mean() < 0.12


def test_payments_sum_to_invoice_amount(book: Book, outcomes: pd.DataFrame) -> None:
    assert (book.payments["amount"] > 0).all()
    assert (outcomes["paid"] <= outcomes["amount"] + 0.005).all()
    split = book.payments.groupby("invoice_id").size()
    share_split = (split > 1).sum() / outcomes["settled"].sum()
    assert 0.05 < share_split < 0.15
    assert split.max() <= 3
    # Payment amounts are whole cents and settled invoices are paid to the cent.
    cents = book.payments["amount"] * 100
    assert np.allclose(cents, cents.round())
    settled = outcomes[outcomes["settled"]]
    assert np.allclose(settled["paid"], settled["amount"], atol=1e-6)
    # Invoices drawn as on time and already due must be fully paid, on or before the due date.
    on_time_due = outcomes[(outcomes["late_outcome"] == 0) & (outcomes["due_date"] < END_TS)]
    assert on_time_due["settled"].all()
    assert (on_time_due["last_payment"] <= on_time_due["due_date"]).all()
    # Some invoices are partially paid at END (instalments after END are not in the book).
    partial = (outcomes["paid"] > 0) & ~outcomes["settled"]
    assert partial.sum() > 0


def test_credit_notes(book: Book) -> None:
    inv = book.invoices
    cn = inv[inv["amount"] < 0]
    assert 0.01 < len(cn) / len(inv) < 0.03
    assert (cn["due_date"] == cn["issue_date"]).all()
    assert (cn["disputed"] == 0).all()
    assert not set(cn["invoice_id"]) & set(book.payments["invoice_id"])
    assert not set(cn["invoice_id"]) & set(book.oracle["invoice_id"])


def test_oracle_rows_and_range(book: Book) -> None:
    o = book.oracle
    regular = book.invoices.loc[book.invoices["amount"] > 0, "invoice_id"]
    assert len(o) == len(regular)
    assert set(o["invoice_id"]) == set(regular)
    assert ((o["p_late"] > 0) & (o["p_late"] < 1)).all()
    assert set(o["archetype"]) == set(ARCHETYPES)


def test_open_book_has_realistic_ageing(outcomes: pd.DataFrame) -> None:
    open_ = outcomes[~outcomes["settled"]]
    age = (END_TS - open_["due_date"]).dt.days
    assert (age <= 0).sum() > 0  # not yet due
    assert ((age > 0) & (age <= 30)).sum() > 0  # slightly overdue
    assert (age > 90).sum() > 0  # long overdue (bad debt, long disputes)


# ---------------------------------------------------------------- the generating process
def test_archetypes_order_lateness(outcomes: pd.DataFrame) -> None:
    share = outcomes[outcomes["known"]].groupby("archetype")["late"].mean()
    assert share["reliable"] < share["end_of_month"] < share["habitually_late"]
    assert share["reliable"] < share["disputer"] < share["habitually_late"]


def test_deteriorating_customers_get_later(outcomes: pd.DataFrame) -> None:
    det = outcomes[outcomes["known"] & (outcomes["archetype"] == "deteriorating")]
    before = det[det["issue_date"] < det["trouble_date"]]
    after = det[det["issue_date"] >= det["trouble_date"] + pd.Timedelta(days=90)]
    assert len(before) > 200 and len(after) > 100
    assert after["late"].mean() > before["late"].mean() + 0.2
    days_late = (det["last_payment"] - det["due_date"]).dt.days
    late_paid = det["settled"] & det["late"]
    assert days_late[late_paid & det.index.isin(after.index)].mean() > (
        days_late[late_paid & det.index.isin(before.index)].mean()
    )


def test_disputed_invoices_are_later(outcomes: pd.DataFrame) -> None:
    known = outcomes[outcomes["known"]]
    share = known.groupby("disputed")["late"].mean()
    assert share[1] > share[0] + 0.2
    paid_late = known[known["settled"] & known["late"]]
    days = (paid_late["last_payment"] - paid_late["due_date"]).dt.days
    assert days[paid_late["disputed"] == 1].mean() > days[paid_late["disputed"] == 0].mean() + 15


def test_end_of_month_payers_pay_on_month_ends(outcomes: pd.DataFrame) -> None:
    eom = outcomes[(outcomes["archetype"] == "end_of_month") & outcomes["settled"]]
    eom = eom[(eom["disputed"] == 0) & (eom["paid"] > 0)]
    is_month_end = eom["last_payment"].dt.is_month_end | (eom["last_payment"] == eom["due_date"])
    assert is_month_end.mean() > 0.9


def test_oracle_is_calibrated_and_discriminates(outcomes: pd.DataFrame) -> None:
    # Every invoice due before END has a known outcome, so this subset has no selection bias.
    due = outcomes[outcomes["due_date"] < END_TS]
    assert len(due) > 30_000
    assert abs(due["late"].mean() - due["p_late"].mean()) < 0.02
    known = outcomes[outcomes["known"]]
    assert abs(known["late"].mean() - known["p_late"].mean()) < 0.02
    # Calibrated within deciles too, not only on average.
    decile = pd.qcut(due["p_late"], 10, labels=False)
    by = due.groupby(decile).agg(obs=("late", "mean"), exp=("p_late", "mean"))
    assert (by["obs"] - by["exp"]).abs().max() < 0.04
    auc = roc_auc_score(known["late"].to_numpy(dtype=bool), known["p_late"])
    assert 0.75 < auc < 0.92, auc
    # The drawn outcome matches what the export shows wherever it is known.
    assert (known["late"].astype(int) == known["late_outcome"]).all()


def test_history_predicts_future(outcomes: pd.DataFrame) -> None:
    """A customer's past late rate predicts its future one (persistent latent propensity)."""
    known = outcomes[outcomes["known"]]
    cut = END_TS - pd.Timedelta(days=365)
    past = known[known["due_date"] < cut].groupby("customer_id")["late"].agg(["mean", "size"])
    future = known[known["issue_date"] >= cut].groupby("customer_id")["late"].mean()
    both = past[past["size"] >= 5].join(future.rename("future"), how="inner")
    assert both["mean"].corr(both["future"]) > 0.5


# ---------------------------------------------------------------- files
def test_write_book_round_trip(book: Book, tmp_path: Path) -> None:
    paths = write_book(book, tmp_path / "out")
    assert set(paths) == {"customers", "invoices", "payments", "promises", "actions", "oracle"}
    expected = {
        "customers": CUSTOMER_COLUMNS,
        "invoices": INVOICE_COLUMNS,
        "payments": PAYMENT_COLUMNS,
        "promises": PROMISE_COLUMNS,
        "actions": ACTION_COLUMNS,
        "oracle": ORACLE_COLUMNS,
    }
    for name, path in paths.items():
        assert path.name == f"{name}.csv"
        header = path.read_text(encoding="utf-8").split("\n", 1)[0]
        assert header == ",".join(expected[name])
        back = pd.read_csv(path, dtype=str, keep_default_na=False)
        frame = getattr(book, name)
        assert len(back) == len(frame)
        assert list(back.columns) == expected[name]
    inv = pd.read_csv(paths["invoices"], dtype=str, keep_default_na=False)
    assert inv["issue_date"].str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()
    assert inv["amount"].str.fullmatch(r"-?\d+\.\d{2}").all()
    assert (inv["dispute_opened_date"] == "").sum() == (book.invoices["disputed"] == 0).sum()
    np.testing.assert_allclose(inv["amount"].astype(float), book.invoices["amount"])
    cust = pd.read_csv(paths["customers"], dtype=str, keep_default_na=False)
    assert cust["name"].tolist() == book.customers["name"].tolist()
    prom = pd.read_csv(paths["promises"], dtype=str, keep_default_na=False)
    assert (prom["amount"] == "").sum() == book.promises["amount"].isna().sum() > 0
    assert prom.loc[prom["amount"] != "", "amount"].str.fullmatch(r"\d+\.\d{2}").all()


def test_rejects_impossible_sizes() -> None:
    with pytest.raises(ValueError):
        generate_book(10, 5)


# ---------------------------------------------------------------- promises to pay
# sha256 of the CSV files of generate_book(100, 2_000, seed=5) before promises were added: they
# come from their own random stream, so the other files of a seed must not have changed.
BEFORE_PROMISES = {
    "customers": "7e34925b3ccf503886e86d588c61be310c70f94374fe1ffdde4aac3b0d1445fe",
    "invoices": "d1a31c20359bae12706198a41042dc0bbb92f5b1eaf935cc461228cdaafa7ed0",
    "payments": "26fe876b6d6b95128efb034ca2c239faa3048fe141bc71022392af08188b4d09",
    "oracle": "0db47afcdc059ec5062bd2760ce5b6d634164aad3c0ce8b6b316da0401fb2b26",
}


def test_promises_leave_the_rest_of_a_seeds_book_unchanged(tmp_path: Path) -> None:
    import hashlib

    paths = write_book(generate_book(100, 2_000, seed=5, end_date=END), tmp_path)
    digests = {k: hashlib.sha256(paths[k].read_bytes()).hexdigest() for k in BEFORE_PROMISES}
    assert digests == BEFORE_PROMISES
    assert paths["promises"].stat().st_size > 0


def test_promises_are_made_on_overdue_invoices_and_some_are_broken(
    book: Book, outcomes: pd.DataFrame
) -> None:
    pr = book.promises
    assert list(pr.columns) == PROMISE_COLUMNS
    assert pr["promise_id"].is_unique and pr["invoice_id"].is_unique
    assert pr["promise_id"].iloc[0] == "PRM-0000001"
    key = pr[["promised_on", "invoice_id"]]
    assert key.equals(key.sort_values(["promised_on", "invoice_id"]))
    df = pr.merge(
        outcomes, on="invoice_id", how="left", validate="one_to_one", suffixes=("", "_inv")
    )
    assert df["due_date"].notna().all()  # never on a credit note (not in outcomes)
    assert (df["promised_on"] > df["due_date"]).all()  # made once overdue
    assert (df["promised_on"] <= END_TS).all()  # a fact of the export
    assert (df["promised_date"] > df["promised_on"]).all()
    # Made while the invoice was still unpaid.
    assert ((df["last_payment"] > df["promised_on"]) | ~df["settled"]).all()
    # A realistic share of invoices ever overdue get one.
    overdue = outcomes[outcomes["late"].astype(bool) & (outcomes["due_date"] < END_TS)]
    assert 0.15 < len(pr) / len(overdue) < 0.40
    # Kept (paid by the promised date) and broken ones, among promises whose date has passed.
    passed = df[df["promised_date"] < END_TS]
    kept = passed["settled"] & (passed["last_payment"] <= passed["promised_date"])
    assert 0.45 < kept.mean() < 0.80
    # A kept promise is followed by the payment within 3 days of the promised date; a broken one
    # by nothing for at least a week.
    gap = (passed["promised_date"] - passed["last_payment"]).dt.days
    assert gap[kept].between(0, 3).all()
    assert (gap[passed["settled"] & ~kept] <= -8).all()
    # An amount, when stated, is what was still open when the promise was made.
    stated = df[df["amount"].notna()]
    assert 0.2 < len(stated) / len(df) < 0.4
    pays = book.payments.merge(pr[["invoice_id", "promised_on"]], on="invoice_id")
    before = pays[pays["payment_date"] < pays["promised_on"]].groupby("invoice_id")["amount"].sum()
    open_amount = stated["amount_inv"] - stated["invoice_id"].map(before).fillna(0.0)
    np.testing.assert_allclose(stated["amount"], open_amount, atol=0.005)


def test_the_ledger_follows_the_ladder_from_its_own_stream(book: Book) -> None:
    """The collectors' ledger: actions of the book's last six months, on business days, only on
    invoices of the book, each step after the previous one of its invoice; adding it changed no
    other table (its own random stream)."""
    actions = book.actions
    assert set(actions["action"]) >= {"reminder_sent", "call_made", "formal_notice_sent"}
    assert actions["action_id"].is_unique
    assert set(actions["invoice_id"]) <= set(book.invoices["invoice_id"])
    dates = pd.to_datetime(actions["action_date"])
    assert (dates.dt.day_of_week < 5).all()
    assert dates.min() >= pd.Timestamp(END) - pd.Timedelta(days=183)
    assert dates.max() <= pd.Timestamp(END)
    # an invoice's formal notice comes after its reminders and calls
    steps = actions.assign(action_date=pd.to_datetime(actions["action_date"]))
    notices = steps[steps["action"] == "formal_notice_sent"].set_index("invoice_id")["action_date"]
    before = steps[steps["action"].isin(["reminder_sent", "letter_sent", "call_made"])]
    last = before.groupby("invoice_id")["action_date"].max()
    both = last.to_frame("last").join(notices.rename("notice"), how="inner")
    assert len(both) > 10 and (both["last"] <= both["notice"]).all()
