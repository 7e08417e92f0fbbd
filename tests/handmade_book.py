"""A small hand-made book of scored open invoices as of 2026-11-01, each row chosen to exercise one
rule of the worklist: the ladder before and after the due date, the high-risk ladder, disputes,
kept and broken promises, an unassigned customer, text that would run as a spreadsheet formula or
as HTML, and a customer invoiced in pounds (C: amounts are never added across currencies; in
Great Britain, not under French law)."""

from __future__ import annotations

import pandas as pd

AS_OF = pd.Timestamp("2026-11-01")


def _invoice(
    invoice_id: str,
    customer_id: str,
    due: str,
    amount: float,
    *,
    disputed: int = 0,
    p_late: float = 0.3,
    p30: float = 0.1,
    days: tuple[int, int, int] = (5, 20, 60),
    currency: str = "EUR",
) -> dict:
    due_date = pd.Timestamp(due)
    return {
        "invoice_id": invoice_id,
        "customer_id": customer_id,
        "as_of": AS_OF,
        "issue_date": due_date - pd.Timedelta(days=30),
        "due_date": due_date,
        "open_amount": amount,
        "days_past_due": (AS_OF - due_date).days,
        "is_disputed": disputed,
        "p_late": p_late,
        "p_late_30": p30,
        "days_to_pay_p10": days[0],
        "days_to_pay_p50": days[1],
        "days_to_pay_p90": days[2],
        "currency": currency,
    }


SCORES = pd.DataFrame(
    [
        _invoice("A1", "A", "2026-10-22", 1000.0, p_late=1.0, p30=0.9),  # J+10
        _invoice("A2", "A", "2026-11-20", 3000.0, disputed=1, p30=0.1),  # disputed, not due
        _invoice("B1", "B", "2026-11-08", 10000.0, p_late=0.7, p30=0.08),  # J-7, high risk
        _invoice(
            "C1", "C", "2026-09-22", 500.0, p_late=1.0, p30=0.5, days=(0, 3, 30), currency="GBP"
        ),  # J+40
        _invoice("C2", "C", "2026-11-01", 500.0, p_late=0.6, p30=0.5, currency="GBP"),  # due today
        _invoice("D1", "D", "2026-09-12", 1500.0, p_late=1.0, p30=0.2, days=(10, 45, 120)),
        _invoice("D2", "D", "2026-08-01", 2000.0, p_late=1.0, p30=0.9),  # J+92: with the agency
        _invoice("E1", "E", "2026-10-29", 800.0, p_late=1.0, p30=0.3),  # J+3, promise broken
        _invoice("E2", "E", "2026-11-15", 400.0, p_late=0.2, p30=0.05),  # promise pending
        _invoice("F1", "F", "2026-11-30", 900.0, p_late=0.1, p30=0.01),  # J-29: nothing yet
    ]
)
CUSTOMERS = pd.DataFrame(
    {
        "customer_id": ["A", "B", "C", "D", "E", "F"],
        "name": [
            "Alpha SA",
            '=HYPERLINK("http://evil.example","click")',
            "Gamma GmbH",
            "Delta <script>alert(1)</script> SARL",
            "@Epsilon",
            "Phi & Co",
        ],
        "collector": ["Laura", "Karim", "Laura", None, "Karim", "Laura"],
        "preferred_channel": ["email", "phone", "letter", "email", None, "sms"],
        # C, in pounds, is not under French law: no recovery indemnity
        "country": ["FR", "FR", "GB", "FR", "FR", "FR"],
    }
)
PROMISES = pd.DataFrame(
    {
        "promise_id": ["P1", "P2", "P3"],
        "invoice_id": ["E1", "E2", "E1"],
        # P3 is made after the as-of date: not known yet
        "promised_on": pd.to_datetime(["2026-10-20", "2026-10-30", "2026-11-05"]),
        "promised_date": pd.to_datetime(["2026-10-25", "2026-11-10", "2026-11-20"]),
    }
)
