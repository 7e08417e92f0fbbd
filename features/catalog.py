"""The feature catalog: every model feature in plain words (for analysts), and, for the features
that can explain a prediction to a collector, the sentence they read, in English and French.

A reason is a fact about **how the customer pays** that raises the risk of the row's invoices.
So a feature is never given as a reason when it describes the invoice itself (its amount, age,
days past due, due date or payment terms: the row already shows them, and they are not something
the customer did), the calendar, who the customer is, how much it buys or owes, or a habit that
reads as good behaviour ("settles on a month end"). Such features carry `never_because`; a test
over the whole catalog checks that every feature has either sentences (free of jargon and
identifiers) or that mark.

Sentences are `str.format` templates over the feature row (any column may be used), written to
complete "Risk is higher because the customer ..." ("Le risque est plus élevé car le client
..."); numbers are written for the reader's locale (Babel): `{x:.0%}`, `{x:.0f}`, `{x:.1f}`.
A sentence is shown only from `shown_from` on (a share of 0% late is no reason), and never with a
value missing.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd
from babel import Locale
from babel.numbers import format_decimal, format_percent

DEFAULT_LOCALE = "en_GB"


@dataclass(frozen=True)
class Feature:
    name: str
    description: str
    # the sentence a collector reads, completing "Risk is higher because the customer ..."
    reason: str | None = None
    reason_fr: str | None = None
    # shown as a reason only when the feature's value is at least this
    shown_from: float | None = None
    # why the feature is never a reason (set exactly when there is no sentence)
    never_because: str | None = None

    @property
    def is_reason(self) -> bool:
        return self.never_because is None


# Why a feature is never a reason.
INVOICE = "describes the invoice itself (amount, age, due date, terms): shown in the row already"
CALENDAR = "a calendar effect: nothing the customer did, nothing to act on"
WHO = "who the customer is or how to reach it, not how it pays"
VOLUME = "how much the customer buys, settles or owes, not how it pays"
HABIT = "a payment habit that reads as good behaviour, not a risk"


def _never(name: str, description: str, because: str) -> Feature:
    return Feature(name, description, never_because=because)


def _reason(name: str, description: str, en: str, fr: str, shown_from: float) -> Feature:
    return Feature(name, description, reason=en, reason_fr=fr, shown_from=shown_from)


_FEATURES = [
    # invoice context at as_of
    _never("amount", "Invoice amount (currency units).", INVOICE),
    _never(
        "amount_vs_customer_avg",
        "Invoice amount divided by the customer's average invoice before as_of.",
        INVOICE,
    ),
    _never(
        "amount_vs_customer_median",
        "Invoice amount divided by the median amount of the customer's invoices issued before "
        "as_of (this one included; credit notes excluded).",
        INVOICE,
    ),
    _reason(
        "share_already_paid",
        "Share of the invoice already paid before as_of (partial payments).",
        "has paid only {share_already_paid:.0%} of the invoice so far",
        "n'a réglé que {share_already_paid:.0%} de la facture à ce jour",
        0.01,
    ),
    _never("terms_days", "Payment terms: due date − issue date, in days.", INVOICE),
    _never("days_since_issue", "Days from issue date to as_of.", INVOICE),
    _never(
        "days_past_due",
        "as_of − due date in days (negative: days left before the due date).",
        INVOICE,
    ),
    _never("due_day_of_month", "Day of the month of the due date.", CALENDAR),
    _never("due_is_month_end", "1 when the due date is the last day of its month.", CALENDAR),
    _never("due_month", "Calendar month of the due date (1–12).", CALENDAR),
    _reason(
        "is_disputed",
        "1 when a dispute on the invoice was opened before as_of.",
        "disputes the invoice",
        "conteste la facture",
        1,
    ),
    _never("country", "Customer country (categorical).", WHO),
    _never("segment", "Customer segment (categorical).", WHO),
    _never("preferred_channel", "Customer's preferred contact channel (categorical).", WHO),
    _never(
        "customer_terms_days", "Payment terms usually granted to the customer, in days.", INVOICE
    ),
    # customer history: invoices settled before as_of
    _never("settled_invoices", "Invoices the customer settled before as_of.", VOLUME),
    _never("settled_amount", "Amount of the invoices settled before as_of.", VOLUME),
    _reason(
        "share_paid_late",
        "Share of the customer's invoices settled before as_of that were paid after their due "
        "date.",
        "paid {share_paid_late:.0%} of {settled_invoices:.0f} past invoices late",
        "a payé en retard {share_paid_late:.0%} de ses {settled_invoices:.0f} factures passées",
        0.1,
    ),
    _reason(
        "avg_days_late",
        "Average days late (0 when on time) of invoices settled before as_of.",
        "pays {avg_days_late:.0f} days late on average",
        "paie en moyenne avec {avg_days_late:.0f} jours de retard",
        2,
    ),
    _reason(
        "median_days_late",
        "Median days late (0 when on time) of invoices settled before as_of.",
        "pays half of its invoices {median_days_late:.0f} or more days late",
        "paie la moitié de ses factures avec {median_days_late:.0f} jours de retard ou plus",
        2,
    ),
    _reason(
        "std_days_late",
        "Standard deviation of days late of settled invoices.",
        "pays irregularly: its delays vary by about {std_days_late:.0f} days from one invoice "
        "to the next",
        "paie irrégulièrement : ses retards varient d'environ {std_days_late:.0f} jours d'une "
        "facture à l'autre",
        5,
    ),
    _reason(
        "max_days_late",
        "Most days late of any invoice settled before as_of.",
        "has paid an invoice {max_days_late:.0f} days late",
        "a déjà payé une facture avec {max_days_late:.0f} jours de retard",
        7,
    ),
    _reason(
        "amount_weighted_days_late",
        "Days late of settled invoices, weighted by amount.",
        "pays its large invoices {amount_weighted_days_late:.0f} days late on average",
        "paie ses grosses factures avec {amount_weighted_days_late:.0f} jours de retard en moyenne",
        2,
    ),
    _never("settled_invoices_365d", "Invoices settled in the 365 days before as_of.", VOLUME),
    _reason(
        "share_paid_late_365d",
        "Share of invoices settled in the 365 days before as_of that were paid late.",
        "paid {share_paid_late_365d:.0%} of its invoices late over the last 12 months",
        "a payé en retard {share_paid_late_365d:.0%} de ses factures sur les 12 derniers mois",
        0.1,
    ),
    _reason(
        "avg_days_late_365d",
        "Average days late of invoices settled in the 365 days before as_of.",
        "paid {avg_days_late_365d:.0f} days late on average over the last 12 months",
        "a payé avec {avg_days_late_365d:.0f} jours de retard en moyenne sur les 12 derniers mois",
        2,
    ),
    _never("settled_invoices_90d", "Invoices settled in the 90 days before as_of.", VOLUME),
    _reason(
        "share_paid_late_90d",
        "Share of invoices settled in the 90 days before as_of that were paid late.",
        "paid {share_paid_late_90d:.0%} of its invoices late over the last 3 months",
        "a payé en retard {share_paid_late_90d:.0%} de ses factures sur les 3 derniers mois",
        0.1,
    ),
    _reason(
        "avg_days_late_90d",
        "Average days late of invoices settled in the 90 days before as_of.",
        "paid {avg_days_late_90d:.0f} days late on average over the last 3 months",
        "a payé avec {avg_days_late_90d:.0f} jours de retard en moyenne sur les 3 derniers mois",
        2,
    ),
    _reason(
        "trend_days_late_90d",
        "Average days late over the last 90 days minus the long-run average (positive: getting "
        "worse).",
        "pays later than usual lately: {trend_days_late_90d:.0f} days more than its long-run "
        "average",
        "paie plus tard que d'habitude ces derniers temps : {trend_days_late_90d:.0f} jours de "
        "plus que sa moyenne",
        2,
    ),
    _reason(
        "avg_days_late_last5",
        "Average days late of the customer's last five settled invoices.",
        "paid its last 5 invoices {avg_days_late_last5:.0f} days late on average",
        "a payé ses 5 dernières factures avec {avg_days_late_last5:.0f} jours de retard en moyenne",
        2,
    ),
    _reason(
        "median_days_late_last10",
        "Median days late of the customer's last ten settled invoices.",
        "paid half of its last 10 invoices {median_days_late_last10:.0f} or more days late",
        "a payé la moitié de ses 10 dernières factures avec {median_days_late_last10:.0f} jours "
        "de retard ou plus",
        2,
    ),
    _reason(
        "share_paid_late_last10",
        "Share of the customer's last ten settled invoices that were paid late.",
        "paid {share_paid_late_last10:.0%} of its last 10 invoices late",
        "a payé en retard {share_paid_late_last10:.0%} de ses 10 dernières factures",
        0.1,
    ),
    _reason(
        "share_paid_in_parts",
        "Share of settled invoices paid in several partial payments.",
        "pays {share_paid_in_parts:.0%} of its invoices in instalments",
        "paie {share_paid_in_parts:.0%} de ses factures en plusieurs fois",
        0.1,
    ),
    _never(
        "share_settled_on_month_end",
        "Share of the invoices settled before as_of that were settled on the last day of a "
        "month (customers who pay in a month-end run).",
        HABIT,
    ),
    _never(
        "avg_days_early_when_on_time",
        "Average days before the due date of the invoices settled on time (on or before the due "
        "date) before as_of.",
        HABIT,
    ),
    _never(
        "invoices_fallen_due",
        "Invoices whose last day to be paid on time (due date + grace days) was before as_of.",
        VOLUME,
    ),
    _reason(
        "share_unpaid_at_due_date",
        "Share of the invoices fallen due before as_of that were not paid by their due date (+ "
        "grace days): paid late or still unpaid. Unlike the settled history, it sees the invoices "
        "a customer has stopped paying.",
        "left {share_unpaid_at_due_date:.0%} of its invoices unpaid at their due date",
        "a laissé {share_unpaid_at_due_date:.0%} de ses factures impayées à l'échéance",
        0.1,
    ),
    _reason(
        "share_unpaid_at_due_date_365d",
        "Share of the invoices fallen due in the 365 days before as_of that were not paid by "
        "their due date (+ grace days).",
        "left {share_unpaid_at_due_date_365d:.0%} of its invoices unpaid at their due date over "
        "the last 12 months",
        "a laissé {share_unpaid_at_due_date_365d:.0%} de ses factures impayées à l'échéance sur "
        "les 12 derniers mois",
        0.1,
    ),
    _reason(
        "recent_share_unpaid_at_due_date",
        "Share of the invoices fallen due in the 365 days before as_of that were not paid by "
        "their due date (+ grace days), each weighted by how recently it fell due (weight 365 "
        "the day before as_of, down to 0 a year before).",
        "left {recent_share_unpaid_at_due_date:.0%} of its recent invoices unpaid at their due "
        "date",
        "a laissé {recent_share_unpaid_at_due_date:.0%} de ses factures récentes impayées à "
        "l'échéance",
        0.1,
    ),
    _never("invoices_fallen_due_90d", "Invoices fallen due in the 90 days before as_of.", VOLUME),
    _reason(
        "share_unpaid_at_due_date_90d",
        "Share of the invoices fallen due in the 90 days before as_of that were not paid by "
        "their due date (+ grace days): the earliest sign of a customer in trouble.",
        "left {share_unpaid_at_due_date_90d:.0%} of its invoices unpaid at their due date over "
        "the last 3 months",
        "a laissé {share_unpaid_at_due_date_90d:.0%} de ses factures impayées à l'échéance sur "
        "les 3 derniers mois",
        0.1,
    ),
    _reason(
        "share_fallen_due_90d_still_unpaid",
        "Of the invoices fallen due in the 90 days before as_of, the share still unpaid at as_of "
        "(none paid, or paid in part).",
        "has not paid {share_fallen_due_90d_still_unpaid:.0%} of the invoices that fell due in "
        "the last 3 months",
        "n'a pas réglé {share_fallen_due_90d_still_unpaid:.0%} des factures arrivées à "
        "échéance ces 3 derniers mois",
        0.1,
    ),
    _reason(
        "state_p_late",
        "Probability that an invoice issued on this invoice's issue date is left unpaid at its "
        "due date, by a model of the customer's state fitted to its invoices fallen due before "
        "as_of: its own lateness rate, shrunk towards the book's when it has few invoices, and "
        "a deterioration that may have begun (features/state.py).",
        "by its record so far, leaves about {state_p_late:.0%} of its invoices unpaid at the due "
        "date",
        "d'après son historique, laisse environ {state_p_late:.0%} de ses factures impayées à "
        "l'échéance",
        0.1,
    ),
    _reason(
        "state_deteriorating",
        "Probability, by the same model, that the customer's payments began to deteriorate "
        "before as_of: more of its recent invoices left unpaid at the due date than its history "
        "explains.",
        "shows signs of deteriorating payments ({state_deteriorating:.0%} likely)",
        "montre des signes de dégradation de ses paiements (probable à {state_deteriorating:.0%})",
        0.5,
    ),
    _reason(
        "dispute_rate",
        "Disputes opened before as_of per invoice issued before as_of.",
        "disputes {dispute_rate:.0%} of its invoices",
        "conteste {dispute_rate:.0%} de ses factures",
        0.05,
    ),
    _never(
        "invoices_issued_365d",
        "Invoices issued to the customer in the 365 days before as_of.",
        VOLUME,
    ),
    _reason(
        "credit_notes_365d",
        "Credit notes issued to the customer in the 365 days before as_of.",
        "received {credit_notes_365d:.0f} credit notes in the last 12 months",
        "a reçu {credit_notes_365d:.0f} avoirs sur les 12 derniers mois",
        2,
    ),
    _never("tenure_days", "Days since the customer's first invoice.", WHO),
    _reason(
        "days_since_last_payment",
        "Days since the customer's last payment before as_of.",
        "has paid nothing for {days_since_last_payment:.0f} days",
        "n'a rien payé depuis {days_since_last_payment:.0f} jours",
        14,
    ),
    # customer exposure at as_of
    _never("customer_open_invoices", "Customer's invoices open at as_of.", VOLUME),
    _never("customer_open_amount", "Customer's open amount at as_of.", VOLUME),
    _reason(
        "customer_overdue_invoices",
        "Customer's invoices past due and unpaid at as_of.",
        "has {customer_overdue_invoices:.0f} invoices overdue",
        "a {customer_overdue_invoices:.0f} factures échues non réglées",
        2,
    ),
    _never("customer_overdue_amount", "Customer's overdue amount at as_of.", VOLUME),
    _never(
        "customer_max_days_past_due",
        "Days past due of the customer's oldest overdue invoice.",
        INVOICE,
    ),
    _reason(
        "customer_disputed_open_invoices",
        "Customer's open invoices under dispute at as_of.",
        "has invoices in dispute ({customer_disputed_open_invoices:.0f})",
        "a des factures en litige ({customer_disputed_open_invoices:.0f})",
        1,
    ),
    _reason(
        "open_amount_vs_monthly_billing",
        "Customer's open amount divided by its average monthly billing over the last 365 days.",
        "owes {open_amount_vs_monthly_billing:.1f} months of its usual billing",
        "doit {open_amount_vs_monthly_billing:.1f} mois de sa facturation habituelle",
        1.5,
    ),
    _reason(
        "open_amount_vs_usual",
        "Amount of the customer's open invoices at as_of divided by its daily average over the "
        "365 days up to as_of (since its first invoice when the customer is newer); amounts "
        "before partial payments.",
        "has {open_amount_vs_usual:.1f} times its usual amount outstanding",
        "a {open_amount_vs_usual:.1f} fois son encours habituel",
        1.2,
    ),
]

CATALOG: dict[str, Feature] = {f.name: f for f in _FEATURES}
# When nothing about how the customer pays raises the risk: the row's risk comes from its
# invoices themselves (their age, amount, due date), which the row shows.
NO_REASON = {
    "en": "nothing in how it pays stands out: the risk comes from the invoices themselves",
    "fr": "rien dans sa façon de payer ne ressort : le risque tient aux factures elles-mêmes",
}
CATEGORICAL_FEATURES = ("country", "segment", "preferred_channel")


def reason_sentence(
    feature: str, row: Mapping[str, object], locale: str = DEFAULT_LOCALE
) -> str | None:
    """The sentence for `feature` as a reason, filled with the row's values and written for
    `locale` (French sentences for a French locale, English otherwise).

    None when the feature is never a reason, when its value is below `shown_from`, or when a
    value the sentence needs is missing (no sentence rather than a half-filled one).
    """
    entry = CATALOG[feature]
    if not entry.is_reason:
        return None
    value = row.get(feature)
    if _is_missing(value) or (entry.shown_from is not None and float(value) < entry.shown_from):
        return None
    place = Locale.parse(locale)
    template = entry.reason_fr if place.language == "fr" else entry.reason
    values = {k: v for k, v in row.items() if not _is_missing(v)}
    try:
        return _LocaleFormatter(place).format(template, **values)
    except (KeyError, ValueError, TypeError):
        return None


def no_reason_sentence(locale: str = DEFAULT_LOCALE) -> str:
    """What a row says when no fact about how the customer pays raises its risk."""
    return NO_REASON["fr" if Locale.parse(locale).language == "fr" else "en"]


class _LocaleFormatter(string.Formatter):
    """str.format with numbers written by Babel for a locale: `:.0%` a percentage ("80 %" in
    French), `:.0f` / `:.1f` a number with that many decimals and the locale's grouping."""

    def __init__(self, place: Locale) -> None:
        self.place = place

    def format_field(self, value: object, format_spec: str) -> str:
        if not format_spec or isinstance(value, str):
            return super().format_field(value, format_spec)
        digits = int(format_spec.lstrip(",.")[:-1] or 0)
        decimals = "." + "0" * digits if digits else ""
        if format_spec.endswith("%"):  # the locale's own pattern: "80 %" in French
            pattern = self.place.percent_formats[None].pattern.split(";")[0]
            pattern = pattern.replace("#,##0", "#,##0" + decimals, 1)
            return format_percent(float(value), pattern, locale=self.place)
        return format_decimal(float(value), f"#,##0{decimals}", locale=self.place)


def _is_missing(value: object) -> bool:
    if value is None or isinstance(value, str):
        return value is None
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False
