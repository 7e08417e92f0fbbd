"""Payment terms: the texts an invoice's `payment_terms_days` may hold when its due date is
derived from it (mapping `due_date = "issue_date + payment_terms_days"`), and the French caps on
payment terms (Code de commerce L441-10) every invoice is checked against at ingest
(`staging.invoices.terms_over_cap`, counted in `loads.terms_over_cap`).

Both are SQL expressions over a row's columns: the invoices' check query (`rules.py`) types the
terms and derives the due date, their upsert (`upsert.py`) writes the flag, and migration 6
(`pipelines/warehouse/migrations.py`) back-filled it. A customer's `payment_terms_days` stays a
whole number (`rules.bad_number`).
"""

from __future__ import annotations

from pipelines.ingest.db import quote

# The forms understood, read ignoring case and repeated spaces:
# "30", "net 30", "30 net", "30 days", "60 jours": the issue date + N days;
PLAIN = r"^(?:net ?)?(\d+)(?: ?net| days| jours)?$"
# "45 EOM", "45 FDM", "45 fin de mois", "45 jours fin de mois", "45 days end of month": the end
# of the issue month + N days.
END_OF_MONTH = r"^(\d+)(?: days| jours)? ?(?:eom|fdm|fin de mois|end of month)$"
ACCEPTED = (
    "N, net N, N net, N days, N jours (issue date + N days); "
    "N EOM, N FDM, N fin de mois, N jours fin de mois, N days end of month "
    "(end of the issue month + N days)"
)

# L441-10: at most 60 days from the invoice date, or 45 days end of month if agreed, which
# contracts read either as the end of the issue month + 45 days or as the issue date + 45 days
# then the end of that month.
CAP_DAYS = 60
CAP_END_OF_MONTH_DAYS = 45


def _normal(text: str) -> str:
    return f"regexp_replace(lower(trim({text})), '\\s+', ' ', 'g')"


def terms_days(text: str) -> str:
    """SQL: the days of the terms text `text` (an integer), null when it is none of the accepted
    forms. A whole number is read as before (`try_cast`: "30", "+30", "30.0" from Parquet)."""
    normal = _normal(text)
    return (
        f"coalesce(try_cast({text} as integer), "
        f"try_cast(regexp_extract({normal}, {quote(PLAIN)}, 1) as integer), "
        f"try_cast(regexp_extract({normal}, {quote(END_OF_MONTH)}, 1) as integer))"
    )


def due_from_terms(issue: str, text: str) -> str:
    """SQL: the due date the terms text gives from the issue date `issue`: issue + N days, or
    for an end-of-month form the last day of the issue month + N days; null when unreadable."""
    end_of_month = f"regexp_full_match({_normal(text)}, {quote(END_OF_MONTH)})"
    return (
        f"((case when {end_of_month} then last_day({issue}) else {issue} end) + {terms_days(text)})"
    )


def over_cap(issue: str, due: str, amount: str) -> str:
    """SQL: true when an invoice (amount > 0: a credit note never) is due later than every
    reading of the caps: issue + 60 days, the end of the issue month + 45 days, and the end of
    the month of issue + 45 days."""
    eom = CAP_END_OF_MONTH_DAYS
    return (
        f"({amount} > 0 and {due} > greatest({issue} + {CAP_DAYS}, "
        f"last_day({issue}) + {eom}, last_day({issue} + {eom})))"
    )
