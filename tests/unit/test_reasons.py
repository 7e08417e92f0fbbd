"""Reasons in business words: the whole feature catalog checked (each feature has sentences free
of jargon, in English and French, or is marked never to be a reason, with why), and the reasons of
a worklist row computed over its invoices on hand-written contributions."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from features.catalog import CATALOG, reason_sentence
from models import explain

# What the review found given as reasons, and is not one (collectors.md, finding 6): the
# invoice's age, days past due or distance to the due date, its terms, its amount, the number of
# open invoices, month-end habits, the calendar, who the customer is.
NEVER_REASONS = {
    "days_since_issue",
    "days_past_due",
    "terms_days",
    "customer_terms_days",
    "amount",
    "amount_vs_customer_avg",
    "amount_vs_customer_median",
    "customer_open_invoices",
    "customer_max_days_past_due",
    "share_settled_on_month_end",
    "avg_days_early_when_on_time",
    "due_is_month_end",
    "due_day_of_month",
    "due_month",
    "tenure_days",
    "country",
    "segment",
    "preferred_channel",
}
# Words that betray an identifier, the data's jargon or an invoice fact, in either language
# (regular expressions, on the sentence in lower case).
FORBIDDEN = {
    "en": (
        r"as_of", r"\bas of\b", r"median", r"standard deviation", r"±", r"feature", r"shap",
        r"quantile", r"issued", r"days ago", r"past due", r"due in \d", r"terms",
        r"invoice of", r"invoices open", r"month.end", r"\bnan\b", r"\bnone\b",
    ),
    "fr": (
        r"as_of", r"médiane", r"écart", r"±", r"émise", r"\bil y a\b", r"conditions",
        r"délai de paiement", r"fin de mois", r"\bnan\b", r"\bnone\b",
    ),
}  # fmt: skip


def _high_row() -> dict[str, float]:
    """A row where every feature is at or above what makes it a reason."""
    row = {name: max(2.0, f.shown_from or 0) for name, f in CATALOG.items()}
    shares = [n for n in CATALOG if n.startswith(("share_", "recent_share", "state_", "dispute_"))]
    row.update(dict.fromkeys(shares, 0.62))
    return row | {"is_disputed": 1.0, "settled_invoices": 12.0}


@pytest.mark.parametrize("name", sorted(CATALOG))
def test_each_feature_has_business_sentences_or_is_never_a_reason(name):
    entry = CATALOG[name]
    if not entry.is_reason:
        assert entry.never_because and entry.reason is None and entry.reason_fr is None
        assert reason_sentence(name, _high_row()) is None
        return
    assert name not in NEVER_REASONS
    assert entry.reason and entry.reason_fr and entry.shown_from is not None
    for locale, language in (("en_GB", "en"), ("fr_FR", "fr")):
        sentence = reason_sentence(name, _high_row(), locale)
        assert sentence, (name, locale)
        lower = sentence.lower()
        assert not [w for w in FORBIDDEN[language] if re.search(w, lower)], (name, sentence)
        assert not re.search(r"[_{}]|\b[a-z]+_[a-z]+\b", sentence), (name, sentence)


def test_what_is_not_a_reason_is_marked_so():
    assert {n for n in NEVER_REASONS if CATALOG[n].is_reason} == set()
    # the catalog keeps saying why, in a few shared words
    assert {CATALOG[n].never_because for n in NEVER_REASONS} <= {
        f.never_because for f in CATALOG.values()
    }


def test_sentences_in_english_and_french_with_the_locale_numbers():
    row = {"share_paid_late": 0.8, "settled_invoices": 10.0, "days_since_last_payment": 1234.0}
    assert reason_sentence("share_paid_late", row) == "paid 80% of 10 past invoices late"
    assert reason_sentence("share_paid_late", row, "fr_FR") == (
        "a payé en retard 80\u00a0% de ses 10 factures passées"  # no-break space before %
    )
    assert reason_sentence("days_since_last_payment", row) == "has paid nothing for 1,234 days"
    assert reason_sentence("days_since_last_payment", row, "fr_FR") == (
        "n'a rien payé depuis 1\u202f234 jours"  # a narrow no-break space between thousands
    )
    ratio = {"open_amount_vs_usual": 2.345}
    assert (
        reason_sentence("open_amount_vs_usual", ratio, "fr_FR") == "a 2,3 fois son encours habituel"
    )


def test_a_fact_that_does_not_raise_the_risk_reads_as_no_reason():
    # "paid 0% late", "paid its last 5 invoices 0 days late": true, but no reason
    assert (
        reason_sentence("share_paid_late", {"share_paid_late": 0.0, "settled_invoices": 9}) is None
    )
    assert reason_sentence("avg_days_late_last5", {"avg_days_late_last5": 0.4}) is None
    assert reason_sentence("is_disputed", {"is_disputed": 0.0}) is None
    assert reason_sentence("is_disputed", {"is_disputed": 1.0}) == "disputes the invoice"
    # a value the sentence needs is missing: no sentence rather than the analysts' description
    assert reason_sentence("share_paid_late", {"share_paid_late": 0.5}) is None
    assert reason_sentence("avg_days_late", {}) is None


def test_a_rows_reasons_are_what_raises_the_risk_of_its_invoices(monkeypatch):
    # one worklist row about two invoices: X (open 3000) and Y (open 1000); hand-made SHAP values
    frame = pd.DataFrame(
        {
            "invoice_id": ["X", "Y", "Z"],
            "open_amount": [3000.0, 1000.0, 500.0],
            "avg_days_late": [14.0, 14.0, 3.0],
            "days_past_due": [40.0, 2.0, 1.0],
            "share_paid_late": [0.8, 0.8, 0.2],
            "settled_invoices": [10.0, 10.0, 4.0],
            "dispute_rate": [0.3, 0.3, 0.0],
        },
        index=[10, 11, 12],
    )
    contributions = pd.DataFrame(
        {
            # raises X's risk a lot: the largest weighted mean, but never a reason
            "days_past_due": [2.0, -1.0, 0.0],
            # (3000 × 0.4 + 1000 × 0.4) / 4000 = 0.4
            "avg_days_late": [0.4, 0.4, 0.9],
            # (3000 × 0.1 + 1000 × 0.5) / 4000 = 0.2
            "share_paid_late": [0.1, 0.5, 0.0],
            # (3000 × −0.2 + 1000 × 0.5) / 4000 = −0.025: lowers the row's risk, no reason
            "dispute_rate": [-0.2, 0.5, 0.0],
        },
        index=frame.index,
    )
    monkeypatch.setattr(explain, "shap_values", lambda model, target, rows: contributions)
    groups = pd.Series(["row 1", "row 1", "row 2"], index=frame.index)
    drivers = pd.Series({"row 1": 10, "row 2": 12})
    reasons = explain.group_reasons(None, "p_late_30", frame, groups, drivers, k=3)
    assert reasons == {
        "row 1": ["pays 14 days late on average", "paid 80% of 10 past invoices late"],
        # Z: its average of 3 days late is a reason; 20% late is too little to be one
        "row 2": ["pays 3 days late on average"],
    }
    # only the invoice's own facts raise Z's risk: the row says so rather than nothing
    contributions.loc[12] = [1.5, -0.1, 0.0, 0.0]
    reasons = explain.group_reasons(None, "p_late_30", frame, groups, drivers, k=3)
    assert reasons["row 2"] == [
        "nothing in how it pays stands out: the risk comes from the invoices themselves"
    ]
    french = explain.group_reasons(None, "p_late_30", frame, groups, drivers, k=1, locale="fr_FR")
    assert french["row 1"] == ["paie en moyenne avec 14 jours de retard"]
