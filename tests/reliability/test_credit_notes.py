"""Credit notes count in balances wherever amounts are shown (issue #19 item 3): a customer's
credit notes not yet used (its unapplied credit, features/receivables.py `unapplied_credit`)
are netted in its balance in the worklist (CSV and workbook), in the aged balance of the report
and in what the drafts ask for. They are never open invoices: nothing to chase, nothing to score.

The book, as of 2026-11-01 (one open-items export, of 10-20):
- K owes K1 (1000) and K2 (500), and holds KC1 (-300, issued after the export): credit 300;
- K's KC2 (-80, issued before the export and listed in it with open_amount -20): 20 left;
- K's KC3 (-150, issued before the export and absent from it): used, counts for nothing;
- K's KC4 (-60, issued on the as-of date): not known yet;
- L holds LC1 (-200): another customer's credit changes nothing of K's.
"""

from __future__ import annotations

import email
from datetime import date
from email import policy

import duckdb
import pandas as pd
import pytest
from openpyxl import load_workbook

from features.receivables import unapplied_credit
from models.worklist import WorklistPolicy, plan_invoices, rank_customers, todays_list
from pipelines.publish import report
from pipelines.publish.book import CREDIT_COLUMNS, aged_by_collector, with_credit
from pipelines.publish.drafts import DraftContext, write_drafts
from pipelines.publish.files import write_worklist_csv
from pipelines.publish.workbooks import write_collector_workbooks
from pipelines.warehouse import connect, rebuild_settlements
from tests.conftest import set_env

AS_OF = date(2026, 11, 1)
DAY = pd.Timestamp(AS_OF)


def _book(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        """
        insert into staging.invoices (invoice_id, customer_id, issue_date, due_date, amount,
            currency, disputed) values
        ('K1', 'K', '2026-09-01', '2026-10-01', 1000, 'EUR', false),
        ('K2', 'K', '2026-10-01', '2026-10-31', 500, 'EUR', false),
        ('KC1', 'K', '2026-10-25', '2026-10-25', -300, 'EUR', false),
        ('KC2', 'K', '2026-10-10', '2026-10-10', -80, null, false),
        ('KC3', 'K', '2026-09-15', '2026-09-15', -150, 'EUR', false),
        ('KC4', 'K', '2026-11-01', '2026-11-01', -60, 'EUR', false),
        ('LC1', 'L', '2026-10-26', '2026-10-26', -200, 'EUR', false),
        ('L1', 'L', '2026-10-01', '2026-11-15', 700, 'EUR', false)
        """
    )
    # the export of 10-20 listed K1, K2 (open) and KC2 with 20 of its 80 left; not KC3
    con.execute(
        """
        insert into staging.open_item_exports values
        ('2026-10-20', 'K1', null, 1), ('2026-10-20', 'KC2', -20, 1),
        ('2026-10-20', 'L1', null, 1)
        """
    )
    rebuild_settlements(con)


@pytest.fixture
def credits() -> pd.DataFrame:
    with connect(":memory:") as con:
        _book(con)
        return unapplied_credit(con, AS_OF)


def test_the_credit_left_on_each_credit_note(credits):
    left = dict(zip(credits["invoice_id"], credits["open_credit"], strict=True))
    # KC1 unseen by the export: whole; KC2: what the export says is left; KC3 used (not
    # listed); KC4 issued on the as-of date: not known yet; LC1 is L's
    assert left == {"KC2": 20.0, "KC1": 300.0, "LC1": 200.0}
    assert credits.set_index("invoice_id").loc["KC1", "customer_id"] == "K"


def test_without_any_open_items_export_the_credit_notes_since_the_oldest_open_invoice_count():
    with connect(":memory:") as con:
        _book(con)
        con.execute("delete from staging.open_item_exports")
        # KC0 is older than K's oldest open invoice (K1, of 09-01): K settled everything
        # after it, so it was used; M has nothing open to net its MC1 against
        con.execute(
            """
            insert into staging.invoices (invoice_id, customer_id, issue_date, due_date, amount,
                currency, disputed) values
            ('KC0', 'K', '2026-08-20', '2026-08-20', -40, 'EUR', false),
            ('MC1', 'M', '2026-10-28', '2026-10-28', -90, 'EUR', false)
            """
        )
        rebuild_settlements(con)
        found = unapplied_credit(con, AS_OF)
        # an export dated on the as-of date is not known at it (it lists the start of the day)
        con.execute("insert into staging.open_item_exports values ('2026-11-01', 'K1', null, 2)")
        same = unapplied_credit(con, AS_OF)
        # K1 paid before the as-of date: K2 (of 10-01) is the oldest open, KC3 (09-15) was used
        con.execute(
            """
            insert into staging.payments (payment_id, invoice_id, payment_date, amount)
            values ('P1', 'K1', '2026-10-30', 1000)
            """
        )
        rebuild_settlements(con)
        after_k1_paid = unapplied_credit(con, AS_OF)
    expected = {"KC3": 150.0, "KC2": 80.0, "KC1": 300.0, "LC1": 200.0}
    assert dict(zip(found["invoice_id"], found["open_credit"], strict=True)) == expected
    assert same["open_credit"].tolist() == found["open_credit"].tolist()
    assert set(after_k1_paid["invoice_id"]) == {"KC2", "KC1", "LC1"}


def _scores() -> pd.DataFrame:
    rows = []
    for invoice_id, customer, due, amount in (
        ("K1", "K", "2026-10-01", 1000.0),
        ("K2", "K", "2026-10-31", 500.0),
        ("L1", "L", "2026-11-15", 700.0),
    ):
        due_date = pd.Timestamp(due)
        rows.append(
            {
                "invoice_id": invoice_id,
                "customer_id": customer,
                "as_of": DAY,
                "issue_date": due_date - pd.Timedelta(days=30),
                "due_date": due_date,
                "open_amount": amount,
                "days_past_due": (DAY - due_date).days,
                "is_disputed": 0,
                "p_late": 0.8,
                "p_late_30": 0.5,
                "days_to_pay_p10": 5,
                "days_to_pay_p50": 20,
                "days_to_pay_p90": 60,
                "currency": "EUR",
            }
        )
    return pd.DataFrame(rows)


CUSTOMERS = pd.DataFrame(
    {
        "customer_id": ["K", "L"],
        "name": ["Kappa SARL", "Lambda SA"],
        "collector": ["Laura", "Laura"],
        "preferred_channel": ["email", "email"],
        "country": ["FR", "GB"],
    }
)


@pytest.fixture
def planned(credits) -> tuple[pd.DataFrame, pd.DataFrame]:
    invoices = plan_invoices(
        _scores(), CUSTOMERS, DAY, policy=WorklistPolicy(ledger_start=pd.Timestamp("2026-01-01"))
    )
    worklist = with_credit(rank_customers(invoices, CUSTOMERS, DAY), credits)
    return invoices, worklist


def test_the_worklist_nets_the_credit_in_the_balance_and_shows_it(planned, tmp_path):
    _, worklist = planned
    write_worklist_csv(todays_list(worklist), tmp_path / "worklist.csv")
    rows = pd.read_csv(tmp_path / "worklist.csv").set_index("customer_id")
    columns = list(rows.columns)
    at = columns.index("customer_open_amount")
    assert columns[at + 1 : at + 3] == list(CREDIT_COLUMNS)
    k = rows.loc["K"]
    # K1 1000 + K2 500 open; 300 (KC1) + 20 (KC2) of credit: 1180 owed net
    assert (k.customer_open_amount, k.customer_credit_amount) == (1500.0, 320.0)
    assert k.customer_net_open_amount == 1180.0
    # the row's own amounts stay gross: a credit note is applied to no invoice in particular
    assert k.open_amount == {"K1": 1000.0, "K2": 500.0, "K1, K2": 1500.0}[k.action_invoices]
    # L's credit note is L's alone: L owes 700 less its 200
    assert rows.loc["L", list(CREDIT_COLUMNS)].tolist() == [200.0, 500.0]


def test_the_exact_case_of_the_issue():
    """Invoices of 1000 and 500 open and a credit note of -300: 1200 owed, 300 of credit; a
    credit note of another customer changes nothing; one already used does not count."""
    rows = pd.DataFrame(
        {
            "customer_id": ["K", "M"],
            "currency": ["EUR", "EUR"],
            "customer_open_amount": [1500.0, 900.0],
        }
    )
    credits = pd.DataFrame(
        {
            "customer_id": ["K", "L"],
            "currency": [None, "EUR"],  # no currency: the worklist's default, euros
            "open_credit": [300.0, 200.0],
        }
    )
    out = with_credit(rows, credits).set_index("customer_id")
    assert out.loc["K", list(CREDIT_COLUMNS)].tolist() == [300.0, 1200.0]
    assert out.loc["M", list(CREDIT_COLUMNS)].tolist() == [0.0, 900.0]
    # a credit in pounds offsets nothing owed in euros
    pounds = credits.assign(currency=["GBP", "EUR"])
    assert with_credit(rows, pounds).set_index("customer_id").loc["K", CREDIT_COLUMNS[0]] == 0.0


def test_the_collectors_workbook_shows_the_credit(planned, tmp_path):
    invoices, worklist = planned
    published = todays_list(worklist)
    written = write_collector_workbooks(published, invoices, tmp_path, AS_OF)
    sheet = load_workbook(written["Laura"])["Worklist"]
    header = [c.value for c in sheet[1]]
    rows = {r[header.index("Customer id")]: r for r in sheet.iter_rows(min_row=2, values_only=True)}
    credit = header.index("Customer: credit available (credit notes, payments not applied)")
    net = header.index("Customer: owed net of its credit")
    assert (rows["K"][credit], rows["K"][net]) == (320.0, 1180.0)


def test_the_aged_balance_has_an_unapplied_credit_column_netted_in_the_total(planned, credits):
    invoices, _ = planned
    book = invoices.merge(CUSTOMERS[["customer_id", "collector"]], on="customer_id")
    with_collector = credits.assign(collector=["Laura", "Laura", None])  # LC1: no collector
    table = aged_by_collector(book, with_collector).set_index("collector", drop=False)
    laura = table.loc["Laura"]
    # K1 31 days past due, K2 1 day, L1 not due: 2200 open; 320 of K's credit
    assert (laura["open"], laura["credit"], laura["total"]) == (2200.0, -320.0, 1880.0)
    assert laura["overdue"] == 1500.0
    unassigned = table.loc["unassigned"]  # a customer with credit and no open invoice
    assert (unassigned["open"], unassigned["credit"], unassigned["total"]) == (0.0, -200.0, -200.0)
    everyone = table[table["collector"].isna()].iloc[0]
    assert (everyone["open"], everyone["credit"], everyone["total"]) == (2200.0, -520.0, 1680.0)
    # without credit notes the table is as before: total = open
    plain = aged_by_collector(book).set_index("collector", drop=False).loc["Laura"]
    assert (plain["credit"], plain["total"]) == (0.0, 2200.0)


def test_the_report_shows_the_unapplied_credit(planned):
    invoices, worklist = planned
    with connect(":memory:") as con:
        _book(con)
        values = report.context(
            con, AS_OF, invoices, todays_list(worklist), model_version="7", champion=None,
            capacity=30, customers=CUSTOMERS,
        )  # fmt: skip
        html = report.render(values)
    [eur] = values["aged"]
    laura = next(r for r in eur["rows"] if r["collector"] == "Laura")
    # KC2 (20) + KC1 (300) + LC1 (200): K and L are Laura's
    assert (laura["credit"], laura["total"], eur["has_credit"]) == (-520.0, 1680.0, True)
    section = html.split('id="aged-balance"')[1].split("</section>")[0]
    assert "Unapplied credit" in section and "-€520.00" in section and "€1,680.00" in section


def test_a_reminder_mentions_the_credit_and_asks_for_the_net(planned, tmp_path):
    invoices, worklist = planned
    published = todays_list(worklist).assign(collector="Laura")
    k = published[published["customer_id"] == "K"].assign(next_action_channel="email")
    context = DraftContext(
        as_of=DAY,
        company={"name": "Acme SAS", "address": [], "siren": "", "iban": "", "email": "a@b.fr",
                 "signature": "Le service crédit"},
        customers=CUSTOMERS.assign(country="GB"),  # in English, no statutory indemnity
        invoices=invoices,
        history=pd.DataFrame(
            columns=["customer_id", "invoice_id", "action_date", "action", "channel", "note"]
        ),
        rates=pd.DataFrame({"half_year_start": ["2026-07-01"], "ecb_main_refinancing_rate": [2.15]}),
        french_law=set(),
        french_language=set(),
    )  # fmt: skip
    k = k.assign(next_action_key="first_reminder")
    [path] = write_drafts(tmp_path, k, context)
    body = email.message_from_bytes(path.read_bytes(), policy=policy.default).get_content()
    ids = k["action_invoices"].iloc[0].split(", ")
    gross = float(invoices[invoices["invoice_id"].isin(ids)]["open_amount"].sum())
    net = max(gross - 320.0, 0.0)
    assert f"Total outstanding: €{gross:,.2f}." in body
    assert (
        f"credit notes and payments not yet applied): €320.00; amount to pay: €{net:,.2f}." in body
    )


@pytest.mark.slow
def test_a_real_score_nets_the_credit_in_the_published_worklist(book_copy, monkeypatch):
    """latepay score on the trained small book: the first two customers of the list are given
    credit notes (features unchanged: the settlements are not rebuilt); the list's balances
    net exactly what is left of them."""
    from typer.testing import CliRunner

    from pipelines.cli import app

    set_env(book_copy, monkeypatch)
    folder = book_copy.outputs_dir / AS_OF.isoformat()

    def published() -> pd.DataFrame:
        result = CliRunner().invoke(app, ["score", "--as-of", AS_OF.isoformat()])
        assert result.exit_code == 0, result.output
        return pd.read_csv(folder / "worklist.csv", encoding="utf-8-sig")

    before = published().set_index(["customer_id", "currency"])
    (x, currency), (y, _) = before.index[0], before.index[1]
    with duckdb.connect(str(book_copy.warehouse_path)) as con:
        # one export on 10-20 listing nothing but XC2 with 20 left: every earlier credit note
        # of the book was used; those since are removed
        con.execute("delete from staging.invoices where amount < 0 and issue_date >= '2026-10-20'")
        con.execute(
            """
            insert into staging.invoices (invoice_id, customer_id, issue_date, due_date, amount,
                currency, disputed) values
            ('XC1', $x, '2026-10-25', '2026-10-25', -300, $c, false),
            ('XC2', $x, '2026-10-10', '2026-10-10', -80, $c, false),
            ('YC1', $y, '2026-10-01', '2026-10-01', -150, $c, false)
            """,
            {"x": x, "y": y, "c": currency},
        )
        con.execute("insert into staging.open_item_exports values ('2026-10-20', 'XC2', -20, 1)")
    after = published().set_index(["customer_id", "currency"])
    assert after.index.tolist() == before.index.tolist()  # the ranking did not move
    row = after.loc[(x, currency)]
    assert row["customer_open_amount"] == before.loc[(x, currency), "customer_open_amount"]
    assert row["customer_credit_amount"] == 320.0
    assert row["customer_net_open_amount"] == pytest.approx(row["customer_open_amount"] - 320.0)
    # YC1 was used before the export; nobody else holds credit
    assert after.drop(index=[(x, currency)])["customer_credit_amount"].eq(0.0).all()
    assert "Unapplied credit" in (folder / "report.html").read_text(encoding="utf-8")
