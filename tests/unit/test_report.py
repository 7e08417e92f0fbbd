"""The managers' report on the hand-made book (tests/handmade_book.py: customer C is invoiced in
pounds, the others in euros): amounts in the reader's locale with their currency, totals per
currency, the change since earlier lists, the aged balance per collector, disputes, promises, the
agency, the cash expected per week, the model in one sentence; in English and French."""

from __future__ import annotations

import re
from datetime import date
from html import unescape

import numpy as np
import pandas as pd
import pytest

from models.worklist import (
    WorklistPolicy,
    not_reached,
    plan_invoices,
    rank_customers,
    todays_list,
)
from pipelines.publish import report
from pipelines.publish.book import book_figures, cash_in, payment_cdf
from pipelines.publish.locale import Formats, currency_code, excel_amount_format, language
from pipelines.publish.strings import STRINGS
from pipelines.settings import Settings
from pipelines.warehouse import connect, rebuild_settlements
from pipelines.warehouse.scoring import store_run
from tests.handmade_book import AS_OF, CUSTOMERS, PROMISES, SCORES

NNBSP, NBSP = "\u202f", "\u00a0"  # Babel's narrow no-break space (thousands), no-break space
SECTIONS = (
    "headline", "aged-balance", "disputes", "promises", "agency", "cash-in", "worklist",
    "model-quality", "realised-accuracy",
)  # fmt: skip
CHAMPION = (
    {"backtest_cuts": "2025-11-06,2026-05-05", "data_end": "2026-11-01"},
    {
        "backtest_late_30_model_capture_top20": 0.8250563551029478,
        "backtest_late_30_baseline_aging_capture_top20": 0.4755732157312002,
        "backtest_late_30_model_auc": 0.8446586,
        "backtest_late_30_baseline_aging_auc": 0.7564563,
        "backtest_days_late_at_issue_model_mae_days": 6.04,
        "backtest_days_late_at_issue_baseline_customer_median_mae_days": 9.5,
        "backtest_days_late_at_issue_n": 2127,
        "backtest_days_late_at_issue_cap_days": 90,
    },
)
# D2 was handed over to an agency on 10-15 (the ledger); A2's dispute opened on 09-01.
HANDOVER = pd.DataFrame(
    {
        "customer_id": ["D"],
        "invoice_id": ["D2"],
        "action_date": [pd.Timestamp("2026-10-15")],
        "action": ["agency_handover"],
    }
)


# ------------------------------------------------------------------ amounts in the locale


def test_amounts_in_the_readers_locale_with_their_currency():
    fr, en = Formats("fr_FR"), Formats("en_GB")
    assert fr.money(21428371.18, "EUR") == f"21{NNBSP}428{NNBSP}371,18{NBSP}€"
    assert en.money(21428371.18, "EUR") == "€21,428,371.18"
    assert fr.money(582000, "GBP") == f"582{NNBSP}000,00{NBSP}£GB"  # CLDR's French for GBP
    assert en.money(582000, "GBP") == "£582,000.00"
    assert en.money(1000, "JPY") == "JP¥1,000"  # the currency's own decimals
    # changes carry a sign (a real minus), rounded to the cent; unknown amounts a dash
    assert fr.change(-300.004, "EUR") == f"\u2212300,00{NBSP}€"
    assert en.change(1200, "EUR") == "+€1,200.00"
    assert en.money(float("nan"), "EUR") == en.change(None, "EUR") == "–"
    assert (fr.percent(0.8250563), en.percent(0.8250563)) == (f"83{NBSP}%", "83%")
    assert (fr.count(2415), en.count(2415)) == (f"2{NNBSP}415", "2,415")
    assert (fr.day("2026-11-02"), en.day("2026-11-02")) == ("2 nov. 2026", "2 Nov 2026")
    # an invoice without a currency counts in euros; codes are read ignoring case and spaces
    assert [currency_code(v) for v in (None, float("nan"), " gbp", "EURO")] == [
        "EUR", "EUR", "GBP", "EUR",
    ]  # fmt: skip


def test_excel_formats_put_the_symbol_where_the_locale_does():
    assert excel_amount_format("EUR", "fr_FR") == f'#,##0.00"{NBSP}€"'
    assert excel_amount_format("GBP", "en_GB") == '"£"#,##0.00'
    assert excel_amount_format("JPY", "en_GB") == '"JP¥"#,##0'
    assert excel_amount_format("EUR", "nl_NL") == f'"€{NBSP}"#,##0.00'


def test_the_locale_setting_is_checked_and_names_the_language():
    assert Settings(_env_file=None).locale == "en_GB"
    assert Settings(_env_file=None, locale="fr-FR").locale == "fr_FR"
    with pytest.raises(ValueError, match="unknown locale"):
        Settings(_env_file=None, locale="xx_YY")
    assert (language("fr_BE"), language("en_US"), language("de_DE")) == ("fr", "en", "en")


def test_every_string_of_the_report_is_in_both_languages():
    for key, texts in STRINGS.items():
        assert set(texts) == {"en", "fr"}, key
        fields = [sorted(re.findall(r"{(\w+)}", texts[lang])) for lang in ("en", "fr")]
        assert fields[0] == fields[1], key


# ------------------------------------------------------------------ the hand-made book


@pytest.fixture
def planned() -> tuple[pd.DataFrame, pd.DataFrame]:
    invoices = plan_invoices(
        SCORES,
        CUSTOMERS,
        AS_OF,
        promises=PROMISES,
        actions=HANDOVER,
        policy=WorklistPolicy(ledger_start=pd.Timestamp("2026-01-01")),
    )
    invoices["dispute_opened_date"] = pd.to_datetime(
        np.where(invoices["invoice_id"] == "A2", "2026-09-01", None)
    )
    worklist = rank_customers(invoices, CUSTOMERS, AS_OF)
    worklist.loc[worklist["customer_id"] == "A", "reason_1"] = "paid 80% of 10 past invoices late"
    return invoices, worklist


def _warehouse(con, planned) -> None:
    """Sales for DSO (90 days before 11-01: 9,800 in euros, 1,000 in pounds), earlier lists of
    10-31 (F1 not issued yet) and 10-25 (nothing in pounds yet), a monitoring measure."""
    rebuild_settlements(con)
    con.execute(
        """
        insert into staging.invoices (invoice_id, customer_id, issue_date, due_date, amount,
            currency, disputed) values
        ('S1', 'A', '2026-10-01', '2026-10-31', 9800, 'EUR', false),
        ('S2', 'C', '2026-09-15', '2026-10-15', 1000, 'GBP', false),
        ('S3', 'A', '2026-10-05', '2026-10-05', -400, 'EUR', false),  -- credit note: out
        ('S4', 'A', '2026-08-01', '2026-08-31', 5000, 'EUR', false)   -- before the 90 days
        """
    )
    invoices, worklist = planned
    earlier = {
        "2026-10-31": invoices[invoices["invoice_id"] != "F1"],
        "2026-10-25": invoices[invoices["currency"] == "EUR"],
    }
    for day, frame in earlier.items():
        dso = {"receivables": 0.0, "sales": 0.0, "dso": None}
        store_run(con, f"run-{day}", date.fromisoformat(day), "6", frame, worklist, dso)
    con.execute(
        """
        create table scoring.monitoring as select * from (values
            (date '2026-11-01', 'realised', date '2026-09-30', '4 weeks', 'late_30', 'n', 512.0),
            (date '2026-11-01', 'realised', date '2026-09-30', '4 weeks', 'late_30',
             'capture_top20', 0.79),
            (date '2026-11-01', 'realised', date '2026-09-30', '4 weeks', 'late_30',
             'capture_top20_aging', 0.45)
        ) as t(monitored_on, section, list_date, "window", target, metric, value)
        """
    )


def _context(planned, locale: str = "en_GB", capacity: int = 30) -> dict:
    invoices, worklist = planned
    if capacity != 30:
        policy = WorklistPolicy(capacity_per_collector=capacity)
        worklist = rank_customers(invoices, CUSTOMERS, AS_OF, policy=policy)
    with connect(":memory:") as con:
        _warehouse(con, planned)
        return report.context(
            con,
            AS_OF.date(),
            invoices,
            todays_list(worklist),
            model_version="7",
            champion=CHAMPION,
            capacity=capacity,
            customers=CUSTOMERS,
            locale=locale,
            not_reached=not_reached(worklist),
        )


def test_the_report_says_how_much_work_due_the_lists_could_not_hold(planned):
    # one customer a collector: Laura's C (C1 and C2, £500 at risk) waits behind A, Karim's E
    # (E1: 800 x 0.3) behind B; C's action has been due since C1's 2026-09-22
    values = _context(planned, capacity=1)
    assert values["not_reached"] == {
        "customers": 2,
        "since": pd.Timestamp("2026-09-22"),
        "currencies": [
            {"currency": "GBP", "at_risk": 500.0},
            {"currency": "EUR", "at_risk": 240.0},
        ],
    }
    said = re.compile(r'<p class="note" id="not-reached">(.*?)</p>', re.S)
    english = said.search(unescape(report.render(values))).group(1)
    assert english.startswith(
        "Not reached: 2 customers with work due did not fit in today's lists (£500.00, €240.00 "
        "expected at risk; the oldest action due since 22 Sept)."
    )
    # nothing held back: nothing said
    nothing = report._not_reached(None)
    assert 'id="not-reached"' not in report.render({**values, "not_reached": nothing})


def test_totals_per_currency_never_summed_across(planned):
    invoices, _ = planned
    figures = book_figures(invoices)
    # euros: everything but C; open A1 1000 + A2 3000 + B1 10000 + D1 1500 + D2 2000 + E1 800
    # + E2 400 + F1 900; overdue A1, D1, D2, E1; at risk 900 + 300 + 800 + 300 + 240 + 20 + 9
    # (D2 is at the agency: 0); disputed A2; promised (pending) E2; at the agency D2
    assert figures.loc["EUR"].to_dict() == {
        "open_amount": 19600.0, "open_invoices": 8, "customers": 5, "overdue_amount": 5300.0,
        "at_risk": pytest.approx(2569.0), "disputed_amount": 3000.0, "disputed_invoices": 1,
        "promised_amount": 400.0, "promised_invoices": 1, "agency_amount": 2000.0,
        "agency_invoices": 1,
    }  # fmt: skip
    # pounds: C1 (40 days past due) and C2 (due today), 500 each, half at risk
    gbp = figures.loc["GBP"]
    assert (gbp.open_amount, gbp.overdue_amount, gbp.at_risk) == (1000.0, 500.0, 500.0)


def test_the_headline_moves_since_the_previous_list_and_a_week_before(planned):
    values = _context(planned)
    assert values["compared"] == {"previous": date(2026, 10, 31), "week": date(2026, 10, 25)}
    eur, gbp = values["headline"]  # the larger book first
    assert (eur["currency"], gbp["currency"]) == ("EUR", "GBP")
    rows = {row["key"]: row for row in eur["rows"]}
    # F1 (900, 9 at risk) arrived since 10-31; the euros were the same on 10-25
    assert rows["open_amount"]["changes"] == {"previous": 900.0, "week": 0.0}
    assert rows["at_risk"]["changes"]["previous"] == pytest.approx(9.0)
    # DSO: 19,600 / 9,800 × 90 = 180 days today, 18,700 / 9,800 × 90 on 10-31
    assert rows["dso"]["value"] == pytest.approx(180.0)
    assert rows["dso"]["changes"]["previous"] == pytest.approx(900 / 9800 * 90)
    pounds = {row["key"]: row for row in gbp["rows"]}
    # no pounds on 10-25: the whole of today's is new; no DSO then to compare with
    assert pounds["open_amount"]["changes"] == {"previous": 0.0, "week": 1000.0}
    assert pounds["dso"]["value"] == pytest.approx(90.0)
    assert pounds["dso"]["changes"]["week"] is None


def test_aged_balance_per_collector_and_currency(planned):
    aged = {b["currency"]: b["rows"] for b in _context(planned)["aged"]}
    eur = {row["collector"]: row["amounts"] for row in aged["EUR"]}
    # not due, 1–30, 31–60, 61–90, > 90; collectors by open amount, then all of them
    assert list(eur) == ["Karim", "Laura", "unassigned", None]
    assert eur["Karim"] == [10400.0, 800.0, 0.0, 0.0, 0.0]  # B1 + E2; E1
    assert eur["Laura"] == [3900.0, 1000.0, 0.0, 0.0, 0.0]  # A2 + F1; A1
    assert eur[None] == [14300.0, 1800.0, 1500.0, 0.0, 2000.0]
    assert [(r["collector"], r["amounts"]) for r in aged["GBP"]] == [
        ("Laura", [500.0, 0.0, 500.0, 0.0, 0.0]),
        (None, [500.0, 0.0, 500.0, 0.0, 0.0]),
    ]
    assert aged["GBP"][0]["shares"] == [50.0, 0.0, 50.0, 0.0, 0.0]  # the bar


def test_disputes_promises_and_the_agency(planned):
    values = _context(planned)
    [disputes] = values["disputes"]
    assert (disputes["currency"], disputes["amount"], disputes["oldest_days"]) == (
        "EUR",
        3000.0,
        61,
    )
    assert [r["invoice_id"] for r in disputes["oldest"]] == ["A2"]
    promises = values["promises"]
    [eur] = promises["blocks"]
    # E1's promise for 10-25 broke (still open); E2's for 11-10 is after this week
    assert eur["due"] is None and eur["later"]["amount"] == 400.0
    assert (eur["broken"]["amount"], eur["broken"]["invoices"]) == (800.0, 1)
    assert [r["invoice_id"] for r in eur["broken_invoices"]] == ["E1"]
    assert (promises["due_from"], promises["due_to"]) == (AS_OF, pd.Timestamp("2026-11-07"))
    assert promises["broken_from"] == pd.Timestamp("2026-10-25")
    [agency] = values["agency"]
    assert (agency["amount"], agency["customers"], agency["listed"][0]["customer_id"]) == (
        2000.0, 1, "D",
    )  # fmt: skip


def test_a_payment_date_distribution_from_three_quantiles():
    # P10 0, P50 3, P90 30 days: 10% on day 0, then linear to 50% on day 3 and 90% on day 30,
    # the last 10% up to the 180-day horizon; crossed quantiles are sorted; unknown: never
    cdf = payment_cdf(
        np.array([[0, 3, 30], [30, 3, 0], [np.nan, 1, 2]]), np.array([0, 1, 3, 30, 105, 180])
    )
    assert cdf[0] == pytest.approx([0.0, 0.1 + 0.4 / 3, 0.5, 0.9, 0.95, 1.0])
    assert cdf[1] == pytest.approx(cdf[0])
    assert cdf[2].tolist() == [0.0] * 6


def test_cash_expected_per_week_with_what_is_not_expected_apart(planned):
    invoices, _ = planned
    cash = cash_in(invoices, AS_OF, weeks=3)
    gbp = cash[cash["currency"] == "GBP"].reset_index(drop=True)
    # Sunday 11-01: the current week has one day left (its Monday, 10-26, names it); C1
    # (0, 3, 30 days) pays 0.1 + 0.4/3 of 500 on it, C2 (5, 20, 60) 1/5 of 10% of 500
    assert gbp["week"].tolist()[:3] == list(
        pd.to_datetime(["2026-10-26", "2026-11-02", "2026-11-09"])
    )
    assert gbp.loc[0, "expected"] == pytest.approx(500 * (0.1 + 0.4 / 3) + 500 * 0.02)
    assert pd.isna(gbp.loc[3, "week"])  # later than 11-15, or never
    eur = cash[cash["currency"] == "EUR"]
    # each column adds up to its invoices' open amount: in dispute A2, at the agency D2
    assert eur[["expected", "disputed", "agency"]].sum().to_dict() == pytest.approx(
        {"expected": 14600.0, "disputed": 3000.0, "agency": 2000.0}
    )
    assert gbp["expected"].sum() == pytest.approx(1000.0)


def test_the_model_in_one_plain_sentence(planned):
    quality = _context(planned)["quality"]
    assert quality["capture"] == (0.8250563551029478, 0.4755732157312002)
    assert quality["cuts"] == ["2025-11-06", "2026-05-05"]
    assert report.model_quality(None)["capture"] is None
    assert quality["days_late"] == {"model": 6.04, "baseline": 9.5, "n": 2127, "cap": 90}
    assert report.model_quality((CHAMPION[0], {}))["days_late"] is None


# ------------------------------------------------------------------ the page


def _sections(html: str) -> dict[str, str]:
    """Section id -> its HTML, character references read (&#39; is ')."""
    found = re.findall(r'<section id="([\w-]+)">(.*?)</section>', html, re.S)
    return {name: unescape(text) for name, text in found}


def test_the_report_reads_in_english(planned):
    html = report.render(_context(planned))
    sections = _sections(html)
    assert tuple(sections) == SECTIONS
    headline = sections["headline"]
    assert "Changes since the previous list (31 Oct 2026) and since a week before" in headline
    assert "€19,600.00" in headline and "+€900.00" in headline and "£1,000.00" in headline
    assert "180.0 days" in headline and "8 invoices, 5 customers" in headline
    assert "€1,800.00" in sections["aged-balance"] and "All collectors" in sections["aged-balance"]
    assert "1 invoice of 1 customer; the oldest opened 61 days ago." in sections["disputes"]
    assert "Broken this week (25 Oct – 31 Oct)" in sections["promises"]
    assert "This week (to 1 Nov)" in sections["cash-in"]
    assert re.search(r"After \d+ Jan, or never", sections["cash-in"])
    assert "Of the money that turned out seriously late" in sections["model-quality"]
    assert "83% was in the top fifth of the list, against 48% for an aging list" in html
    assert (
        "latepay's expected date was 6.0 days off the actual days late on average, against 9.5 "
        "days for the customer's median delay so far (2,127 invoices; delays capped at 90 days"
    ) in " ".join(sections["model-quality"].split())
    assert "79% of the money that turned out seriously late" in sections["realised-accuracy"]
    # the top of today's list: one line per customer, the action, its status, invoices, at risk
    top = sections["worklist"]
    # (the ledger starts on 01-01: no step before it was recorded, every action is overdue)
    assert top.count("<tr>") == 1 + 5  # header + A, B, C, D, E
    assert "reminder on the due date · email" in top and "overdue since 22 Oct" in top
    assert "C1 +1" in top and "£500.00" in top and "paid 80% of 10 past invoices late" in top


def test_the_report_reads_in_french(planned):
    html = unescape(report.render(_context(planned, "fr_FR")))
    sections = _sections(html)
    assert tuple(sections) == SECTIONS and '<html lang="fr">' in html
    assert f"19{NNBSP}600,00{NBSP}€" in sections["headline"]
    assert f"+900,00{NBSP}€" in sections["headline"] and f"1{NNBSP}000,00{NBSP}£GB" in html
    assert "Le portefeuille aujourd'hui" in html and "Balance âgée par chargé" in html
    assert "1 facture de 1 client ; le plus ancien ouvert il y a 61 jours." in html
    assert f"83{NBSP}% se trouvait dans le premier cinquième de la liste" in html
    assert "s'écartait en moyenne de 6,0 jours du retard réel, contre 9,5 jours" in html
    assert "relance le jour de l'échéance · e-mail" in sections["worklist"]
    assert "en retard depuis le 22 oct." in sections["worklist"]
    assert "Cette semaine (jusqu'au 1 nov.)" in sections["cash-in"]


def test_the_report_neutralises_html_from_the_data(planned):
    html = report.render(_context(planned))
    assert "<script>alert(1)</script>" not in html
    assert "Delta &lt;script&gt;alert(1)&lt;/script&gt; SARL" in html
    # self-contained: no external asset, no script at all
    assert "<script" not in html and "<link" not in html
    assert "src=" not in html
    assert not re.search(r"url\((?!#)|href=\"(?!#)", html)  # only references inside the page


def test_a_first_list_has_nothing_to_compare_with(planned):
    invoices, worklist = planned
    with connect(":memory:") as con:
        rebuild_settlements(con)
        values = report.context(
            con, AS_OF.date(), invoices, todays_list(worklist), model_version="1",
            champion=None, capacity=30, customers=CUSTOMERS,
        )  # fmt: skip
    assert values["compared"] == {} and values["realised"] is None
    html = report.render(values)
    assert "No earlier list" in html and "No backtest was logged with this model." in html
    assert 'id="realised-accuracy"' not in html
