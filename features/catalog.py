"""The feature catalog: every model feature in plain words, and the sentence a collector reads when
the feature is a reason for a prediction. A test keeps it and the SQL in step.

Reason sentences are `str.format` templates over the feature row (any column may be used), written
to complete "Risk is higher because the customer ...", or about the invoice.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Feature:
    name: str
    description: str
    reason: str
    # used instead of `reason` when the feature's value is negative; `{minus}` is −value
    reason_if_negative: str | None = None
    # a yes/no feature is a reason only when its value is 1 (a 0 must not read as "is disputed")
    binary: bool = False
    # calendar and tenure effects help the model but tell a collector nothing to act on
    shown_as_reason: bool = True


_FEATURES = [
    # invoice context at as_of
    Feature("amount", "Invoice amount (currency units).", "invoice of {amount:,.0f}"),
    Feature(
        "amount_vs_customer_avg",
        "Invoice amount divided by the customer's average invoice before as_of.",
        "invoice is {amount_vs_customer_avg:.1f}× the customer's usual amount",
    ),
    Feature(
        "amount_vs_customer_median",
        "Invoice amount divided by the median amount of the customer's invoices issued before "
        "as_of (this one included; credit notes excluded).",
        "invoice is {amount_vs_customer_median:.1f}× the customer's median invoice",
    ),
    Feature(
        "share_already_paid",
        "Share of the invoice already paid before as_of (partial payments).",
        "{share_already_paid:.0%} of the invoice paid so far",
    ),
    Feature(
        "terms_days",
        "Payment terms: due date − issue date, in days.",
        "{terms_days:.0f}-day payment terms",
    ),
    Feature(
        "days_since_issue",
        "Days from issue date to as_of.",
        "issued {days_since_issue:.0f} days ago",
    ),
    Feature(
        "days_past_due",
        "as_of − due date in days (negative: days left before the due date).",
        "{days_past_due:.0f} days past due",
        "due in {minus:.0f} days",
    ),
    Feature(
        "due_day_of_month",
        "Day of the month of the due date.",
        "due on day {due_day_of_month:.0f} of the month",
        shown_as_reason=False,
    ),
    Feature(
        "due_is_month_end",
        "1 when the due date is the last day of its month.",
        "due at a month end",
        binary=True,
    ),
    Feature(
        "due_month",
        "Calendar month of the due date (1–12).",
        "due in month {due_month:.0f} of the year",
        shown_as_reason=False,
    ),
    Feature(
        "is_disputed",
        "1 when a dispute on the invoice was opened before as_of.",
        "the invoice is disputed",
        binary=True,
    ),
    Feature("country", "Customer country (categorical).", "customer based in {country}"),
    Feature("segment", "Customer segment (categorical).", "{segment} customer"),
    Feature(
        "preferred_channel",
        "Customer's preferred contact channel (categorical).",
        "reached by {preferred_channel}",
        shown_as_reason=False,
    ),
    Feature(
        "customer_terms_days",
        "Payment terms usually granted to the customer, in days.",
        "usual terms of {customer_terms_days:.0f} days",
    ),
    # customer history: invoices settled before as_of
    Feature(
        "settled_invoices",
        "Invoices the customer settled before as_of.",
        "{settled_invoices:.0f} invoices settled so far",
    ),
    Feature(
        "settled_amount",
        "Amount of the invoices settled before as_of.",
        "{settled_amount:,.0f} settled so far",
    ),
    Feature(
        "share_paid_late",
        "Share of the customer's invoices settled before as_of that were paid after their due date.",
        "paid {share_paid_late:.0%} of {settled_invoices:.0f} past invoices late",
    ),
    Feature(
        "avg_days_late",
        "Average days late (0 when on time) of invoices settled before as_of.",
        "pays {avg_days_late:.0f} days late on average",
    ),
    Feature(
        "median_days_late",
        "Median days late (0 when on time) of invoices settled before as_of.",
        "pays a median {median_days_late:.0f} days late",
    ),
    Feature(
        "std_days_late",
        "Standard deviation of days late of settled invoices.",
        "days late vary by ±{std_days_late:.0f} from one invoice to the next",
    ),
    Feature(
        "max_days_late",
        "Most days late of any invoice settled before as_of.",
        "once paid {max_days_late:.0f} days late",
    ),
    Feature(
        "amount_weighted_days_late",
        "Days late of settled invoices, weighted by amount.",
        "large invoices paid {amount_weighted_days_late:.0f} days late on average",
    ),
    Feature(
        "settled_invoices_365d",
        "Invoices settled in the 365 days before as_of.",
        "{settled_invoices_365d:.0f} invoices settled in the last 12 months",
    ),
    Feature(
        "share_paid_late_365d",
        "Share of invoices settled in the 365 days before as_of that were paid late.",
        "paid {share_paid_late_365d:.0%} of invoices late over the last 12 months",
    ),
    Feature(
        "avg_days_late_365d",
        "Average days late of invoices settled in the 365 days before as_of.",
        "{avg_days_late_365d:.0f} days late on average over the last 12 months",
    ),
    Feature(
        "settled_invoices_90d",
        "Invoices settled in the 90 days before as_of.",
        "{settled_invoices_90d:.0f} invoices settled in the last 3 months",
    ),
    Feature(
        "share_paid_late_90d",
        "Share of invoices settled in the 90 days before as_of that were paid late.",
        "paid {share_paid_late_90d:.0%} of invoices late over the last 3 months",
    ),
    Feature(
        "avg_days_late_90d",
        "Average days late of invoices settled in the 90 days before as_of.",
        "{avg_days_late_90d:.0f} days late on average over the last 3 months",
    ),
    Feature(
        "trend_days_late_90d",
        "Average days late over the last 90 days minus the long-run average (positive: getting worse).",
        "paying later than usual recently (+{trend_days_late_90d:.0f} days vs long-run)",
        "paying earlier than usual recently ({trend_days_late_90d:.0f} days vs long-run)",
    ),
    Feature(
        "avg_days_late_last5",
        "Average days late of the customer's last five settled invoices.",
        "last 5 invoices paid {avg_days_late_last5:.0f} days late on average",
    ),
    Feature(
        "median_days_late_last10",
        "Median days late of the customer's last ten settled invoices.",
        "last 10 invoices paid a median {median_days_late_last10:.0f} days late",
    ),
    Feature(
        "share_paid_late_last10",
        "Share of the customer's last ten settled invoices that were paid late.",
        "paid {share_paid_late_last10:.0%} of its last 10 invoices late",
    ),
    Feature(
        "share_paid_in_parts",
        "Share of settled invoices paid in several partial payments.",
        "pays {share_paid_in_parts:.0%} of invoices in instalments",
    ),
    Feature(
        "share_settled_on_month_end",
        "Share of the invoices settled before as_of that were settled on the last day of a "
        "month (customers who pay in a month-end run).",
        "settles {share_settled_on_month_end:.0%} of invoices on a month end",
    ),
    Feature(
        "avg_days_early_when_on_time",
        "Average days before the due date of the invoices settled on time (on or before the due "
        "date) before as_of.",
        "pays on-time invoices {avg_days_early_when_on_time:.0f} days before the due date",
        # a habit that helps the model; "pays 0 days early" tells a collector nothing to act on
        shown_as_reason=False,
    ),
    Feature(
        "invoices_fallen_due",
        "Invoices whose last day to be paid on time (due date + grace days) was before as_of.",
        "{invoices_fallen_due:.0f} invoices fallen due so far",
        shown_as_reason=False,
    ),
    Feature(
        "share_unpaid_at_due_date",
        "Share of the invoices fallen due before as_of that were not paid by their due date (+ "
        "grace days): paid late or still unpaid. Unlike the settled history, it sees the invoices "
        "a customer has stopped paying.",
        "left {share_unpaid_at_due_date:.0%} of invoices unpaid at their due date",
    ),
    Feature(
        "share_unpaid_at_due_date_365d",
        "Share of the invoices fallen due in the 365 days before as_of that were not paid by "
        "their due date (+ grace days).",
        "left {share_unpaid_at_due_date_365d:.0%} of invoices unpaid at their due date over "
        "the last year",
    ),
    Feature(
        "recent_share_unpaid_at_due_date",
        "Share of the invoices fallen due in the 365 days before as_of that were not paid by "
        "their due date (+ grace days), each weighted by how recently it fell due (weight 365 "
        "the day before as_of, down to 0 a year before).",
        "left {recent_share_unpaid_at_due_date:.0%} of recent invoices unpaid at their due date",
    ),
    Feature(
        "invoices_fallen_due_90d",
        "Invoices fallen due in the 90 days before as_of.",
        "{invoices_fallen_due_90d:.0f} invoices fallen due in the last 3 months",
        shown_as_reason=False,
    ),
    Feature(
        "share_unpaid_at_due_date_90d",
        "Share of the invoices fallen due in the 90 days before as_of that were not paid by "
        "their due date (+ grace days): the earliest sign of a customer in trouble.",
        "left {share_unpaid_at_due_date_90d:.0%} of invoices unpaid at their due date over the "
        "last 3 months",
    ),
    Feature(
        "share_fallen_due_90d_still_unpaid",
        "Of the invoices fallen due in the 90 days before as_of, the share still unpaid at as_of "
        "(none paid, or paid in part).",
        "has not paid {share_fallen_due_90d_still_unpaid:.0%} of the invoices due in the last "
        "3 months",
    ),
    Feature(
        "state_p_late",
        "Probability that an invoice issued on this invoice's issue date is left unpaid at its "
        "due date, by a model of the customer's state fitted to its invoices fallen due before "
        "as_of: its own lateness rate, shrunk towards the book's when it has few invoices, and "
        "a deterioration that may have begun (features/state.py).",
        "by its record so far, leaves about {state_p_late:.0%} of invoices unpaid at the due date",
    ),
    Feature(
        "state_deteriorating",
        "Probability, by the same model, that the customer's payments began to deteriorate "
        "before as_of: more of its recent invoices left unpaid at the due date than its history "
        "explains.",
        "shows signs of deteriorating payments ({state_deteriorating:.0%} likely)",
    ),
    Feature(
        "dispute_rate",
        "Disputes opened before as_of per invoice issued before as_of.",
        "disputes {dispute_rate:.0%} of its invoices",
    ),
    Feature(
        "invoices_issued_365d",
        "Invoices issued to the customer in the 365 days before as_of.",
        "{invoices_issued_365d:.0f} invoices in the last 12 months",
    ),
    Feature(
        "credit_notes_365d",
        "Credit notes issued to the customer in the 365 days before as_of.",
        "{credit_notes_365d:.0f} credit notes in the last 12 months",
    ),
    Feature(
        "tenure_days",
        "Days since the customer's first invoice.",
        "customer for {tenure_days:.0f} days",
        shown_as_reason=False,
    ),
    Feature(
        "days_since_last_payment",
        "Days since the customer's last payment before as_of.",
        "no payment received for {days_since_last_payment:.0f} days",
    ),
    # customer exposure at as_of
    Feature(
        "customer_open_invoices",
        "Customer's invoices open at as_of.",
        "{customer_open_invoices:.0f} invoices open",
    ),
    Feature(
        "customer_open_amount",
        "Customer's open amount at as_of.",
        "{customer_open_amount:,.0f} open in total",
    ),
    Feature(
        "customer_overdue_invoices",
        "Customer's invoices past due and unpaid at as_of.",
        "{customer_overdue_invoices:.0f} invoices already overdue",
    ),
    Feature(
        "customer_overdue_amount",
        "Customer's overdue amount at as_of.",
        "{customer_overdue_amount:,.0f} already overdue",
    ),
    Feature(
        "customer_max_days_past_due",
        "Days past due of the customer's oldest overdue invoice.",
        "oldest unpaid invoice {customer_max_days_past_due:.0f} days past due",
    ),
    Feature(
        "customer_disputed_open_invoices",
        "Customer's open invoices under dispute at as_of.",
        "{customer_disputed_open_invoices:.0f} open invoices in dispute",
    ),
    Feature(
        "open_amount_vs_monthly_billing",
        "Customer's open amount divided by its average monthly billing over the last 365 days.",
        "owes {open_amount_vs_monthly_billing:.1f} months of usual billing",
    ),
    Feature(
        "open_amount_vs_usual",
        "Amount of the customer's open invoices at as_of divided by its daily average over the "
        "365 days up to as_of (since its first invoice when the customer is newer); amounts "
        "before partial payments.",
        "has {open_amount_vs_usual:.1f}× its usual amount of open invoices",
    ),
]

CATALOG: dict[str, Feature] = {f.name: f for f in _FEATURES}
CATEGORICAL_FEATURES = ("country", "segment", "preferred_channel")


def reason_sentence(feature: str, row: Mapping[str, object]) -> str | None:
    """The plain-language sentence for `feature` as a reason, filled with the row's values.

    None when the feature is not shown as a reason, or cannot be one for this row (a yes/no
    feature that is "no"). Falls
    back to the feature's description when a value the sentence needs is missing.
    """
    entry = CATALOG[feature]
    values = {k: v for k, v in row.items() if not _is_missing(v)}
    template = entry.reason
    value = values.get(feature)
    if not entry.shown_as_reason or (entry.binary and value != 1):
        return None
    if entry.reason_if_negative and isinstance(value, int | float) and value < 0:
        template, values["minus"] = entry.reason_if_negative, -value
    try:
        return template.format(**values)
    except (KeyError, ValueError, TypeError):
        return entry.description.rstrip(".")


def _is_missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))
