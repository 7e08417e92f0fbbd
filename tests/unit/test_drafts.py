"""The drafts of today's work (pipelines/publish/drafts.py) and the statutory penalties they
carry (models/penalties.py): exact interest across a change of rate, an email read back with
Python's email package, a formal notice read back from its PDF, currencies never mixed."""

from __future__ import annotations

import email
from email import policy
from pathlib import Path

import pandas as pd
import pytest
from pypdf import PdfReader

from models.penalties import interest_by_period, penalties
from pipelines.publish.drafts import DraftContext, write_drafts

RATES = pd.DataFrame(
    {
        "half_year_start": ["2025-01-01", "2025-07-01"],
        "ecb_main_refinancing_rate": [3.15, 2.15],
    }
)
AS_OF = pd.Timestamp("2025-07-11")


def test_interest_is_priced_half_year_by_half_year():
    # due Friday 2025-06-20, 21 days past due on 07-11: 06-21 to 06-30 (10 days) at 3.15 + 10 =
    # 13.15%, then 07-01 to 07-11 (11 days) at 2.15 + 10 = 12.15%
    periods = interest_by_period(10_000.00, pd.Timestamp("2025-06-20"), AS_OF, RATES)
    assert periods["days"].tolist() == [10, 11]
    assert periods["rate"].tolist() == pytest.approx([0.1315, 0.1215])
    # 10000 × 0.1315 × 10 / 365 = 36.027 → 36.03; 10000 × 0.1215 × 11 / 365 = 36.616 → 36.62
    assert periods["interest"].tolist() == [36.03, 36.62]


def test_the_indemnity_is_owed_in_euros_where_french_law_applies_only():
    invoices = pd.DataFrame(
        {
            "invoice_id": ["F", "G", "N"],
            "currency": ["EUR", "GBP", "EUR"],
            "open_amount": [1000.0, 1000.0, 1000.0],
            "due_date": pd.to_datetime(["2025-07-01", "2025-07-01", "2025-07-20"]),
        }
    )
    owed = penalties(invoices, AS_OF, RATES, french_law=pd.Series([True, True, True]))
    # 1000 × 0.1215 × 10 / 365 = 3.33 in each invoice's own currency; N is not due yet
    assert owed["interest"].tolist() == [3.33, 3.33, 0.0]
    assert owed["currency"].tolist() == ["EUR", "GBP", "EUR"]
    assert owed["indemnity_eur"].tolist() == [40.0, 40.0, 0.0]
    foreign = penalties(invoices, AS_OF, RATES, french_law=pd.Series([False] * 3))
    assert foreign["indemnity_eur"].tolist() == [0.0, 0.0, 0.0]


def _invoice(invoice_id, customer, due, amount, currency="EUR", **extra) -> dict:
    due = pd.Timestamp(due)
    return {
        "invoice_id": invoice_id,
        "customer_id": customer,
        "issue_date": due - pd.Timedelta(days=30),
        "due_date": due,
        "open_amount": amount,
        "days_past_due": (AS_OF - due).days,
        "currency": currency,
        "is_disputed": 0,
        "with_agency": False,
        **extra,
    }


def _row(customer, key, channel, invoices, action="an action") -> dict:
    return {
        "customer_id": customer,
        "collector": "Laura",
        "next_action_key": key,
        "next_action": action,
        "next_action_channel": channel,
        "action_invoices": invoices,
    }


COMPANY = {
    "name": "Acme SAS",
    "address": ["1 rue de la Paix", "75002 Paris"],
    "siren": "552 100 554",
    "iban": "FR76 3000",
    "email": "ar@acme.example",
    "signature": "Le service crédit",
}


@pytest.fixture
def drafted(tmp_path: Path) -> tuple[Path, DraftContext]:
    invoices = pd.DataFrame(
        [
            _invoice("F1", "FR1", "2025-06-20", 10_000.00),
            _invoice("F2", "FR1", "2025-06-20", 500.00, is_disputed=1),  # never in a draft
            _invoice("E1", "UK1", "2025-07-01", 2_000.00, currency="GBP"),
            _invoice("L1", "FR2", "2025-07-01", 300.00),
            _invoice("D1", "FR3", "2025-05-01", 700.00, is_disputed=1),
        ]
    )
    published = pd.DataFrame(
        [
            _row("FR1", "formal_notice", "registered letter", "F1, F2"),
            _row("UK1", "first_reminder", "email", "E1", "first reminder"),
            _row("FR2", "first_reminder", "letter", "L1"),
            _row("FR3", "resolve_dispute", "email", "D1"),
        ]
    )
    customers = pd.DataFrame(
        {
            "customer_id": ["FR1", "UK1", "FR2", "FR3"],
            "name": ["Dupont SARL", "Smith Ltd", "Martin SA", "Bernard SAS"],
            "country": ["FR", "GB", "FR", "FR"],
        }
    )
    context = DraftContext(
        as_of=AS_OF,
        company=COMPANY,
        customers=customers,
        invoices=invoices,
        history=pd.DataFrame(
            columns=["customer_id", "invoice_id", "action_date", "action", "channel", "note"]
        ),
        rates=RATES,
        french_law={"FR"},
        french_language={"FR"},
    )
    write_drafts(tmp_path, published, context)
    return tmp_path / "drafts" / "Laura", context


def test_the_formal_notice_says_mise_en_demeure_and_carries_interest_and_40_euros(drafted):
    folder, _ = drafted
    text = PdfReader(folder / "FR1_formal_notice.pdf").pages[0].extract_text()
    assert "Mise en demeure" in text
    # F1 only (F2 is disputed): 10 000,00 € + 72,65 € of interest + 40 € = 10 112,65 €
    assert "F2" not in text
    assert "72,65" in text and "40,00" in text and "10 112,65" in text.replace("\u202f", " ")
    assert "13,15" in text and "12,15" in text  # the two half-years' rates


def test_an_email_draft_reads_back_with_its_invoices_and_amounts(drafted):
    folder, _ = drafted
    message = email.message_from_bytes(
        (folder / "UK1_first_reminder.eml").read_bytes(), policy=policy.default
    )
    assert message["Subject"] == "Reminder: unpaid invoice"
    assert message["From"] == "ar@acme.example"
    body = message.get_content()
    # a British customer invoiced in pounds: English, pounds, no euro anywhere
    assert "E1" in body and "£2,000.00" in body
    assert "€" not in body


def test_a_letter_for_a_customer_preferring_letters_and_no_draft_for_a_dispute(drafted):
    folder, context = drafted
    assert (folder / "FR2_first_reminder.pdf").exists()
    text = PdfReader(folder / "FR2_first_reminder.pdf").pages[0].extract_text()
    assert "L1" in text and "300,00" in text
    assert not list(folder.glob("FR3_*"))
    assert sorted(p.name for p in context.written) == [
        "FR1_formal_notice.pdf",
        "FR2_first_reminder.pdf",
        "UK1_first_reminder.eml",
    ]


def test_a_pdf_embeds_the_italic_font_only_when_its_text_is_in_italics(tmp_path: Path) -> None:
    """Our templates use no italics (each font read costs time); a user's own template may."""
    from pipelines.publish.drafts import _pdf

    context = DraftContext.__new__(DraftContext)
    context.written = []

    def fonts(name: str, html: str) -> list[str]:
        _pdf(tmp_path / name, html, context)
        resources = PdfReader(tmp_path / name).pages[0]["/Resources"]["/Font"]
        return sorted(str(resources[k].get_object()["/BaseFont"]).split("+")[1] for k in resources)

    plain = fonts("plain.pdf", "<p>Madame, <b>1 234,56 €</b></p>")
    assert plain == ["DejaVuSansBold", "DejaVuSansBook"]
    assert fonts("italic.pdf", "<p>Madame, <i>mise en demeure</i></p>") == [
        "DejaVuSansBook", "DejaVuSansOblique"
    ]  # fmt: skip


def test_a_line_break_in_a_name_never_adds_a_header_to_an_email(tmp_path: Path) -> None:
    """A user's template puts the customer's name in the subject; a name with line breaks
    ("\\r\\nBcc: ...") stays text in the subject, and the other drafts are written too."""
    templates = tmp_path / "templates"
    (templates / "en").mkdir(parents=True)
    (templates / "en" / "reminder_email.txt.j2").write_text(
        "Subject: Invoices of {{ customer.name }}\n\nDear {{ customer.name }},\n", encoding="utf-8"
    )
    invoices = pd.DataFrame(
        [_invoice("E1", "UK1", "2025-07-01", 2_000.00), _invoice("E2", "UK2", "2025-07-01", 9.0)]
    )
    published = pd.DataFrame(
        [_row(c, "first_reminder", "email", i) for c, i in (("UK1", "E1"), ("UK2", "E2"))]
    )
    customers = pd.DataFrame(
        {
            "customer_id": ["UK1", "UK2"],
            "name": ["Smith Ltd\r\nBcc: thief@evil.example\rX-Spam: 1", "Jones plc"],
            "country": ["GB", "GB"],
        }
    )
    context = DraftContext(
        as_of=AS_OF,
        company={**COMPANY, "name": "Acme\nSAS", "email": ""},
        customers=customers,
        invoices=invoices,
        history=pd.DataFrame(
            columns=["customer_id", "invoice_id", "action_date", "action", "channel", "note"]
        ),
        rates=RATES,
        french_law=set(),
        french_language=set(),
        templates_dir=templates,
    )
    write_drafts(tmp_path, published, context)
    folder = tmp_path / "drafts" / "Laura"
    message = email.message_from_bytes(
        (folder / "UK1_first_reminder.eml").read_bytes(), policy=policy.default
    )
    assert message["Subject"] == "Invoices of Smith Ltd Bcc: thief@evil.example X-Spam: 1"
    assert message["Bcc"] is None and message["X-Spam"] is None
    assert message["From"].strip('"') == "Acme SAS"
    assert (folder / "UK2_first_reminder.eml").exists()


def test_an_agency_pack_keeps_a_formula_like_text_as_text(tmp_path: Path) -> None:
    """The agency opens the pack in a spreadsheet: an invoice number or a note that starts like
    a formula is shown as written, never run (xlsx and CSV)."""
    import openpyxl

    invoices = pd.DataFrame([_invoice("=1+2", "FR1", "2025-05-01", 700.00)])
    history = pd.DataFrame(
        {
            "customer_id": ["FR1"],
            "invoice_id": ["=1+2"],
            "action_date": [pd.Timestamp("2025-06-01")],
            "action": ["formal_notice_sent"],
            "channel": ["registered letter"],
            "note": ["@SUM(A1)"],
        }
    )
    context = DraftContext(
        as_of=AS_OF,
        company=COMPANY,
        customers=pd.DataFrame({"customer_id": ["FR1"], "name": ["Dupont"], "country": ["FR"]}),
        invoices=invoices,
        history=history,
        rates=RATES,
        french_law={"FR"},
        french_language={"FR"},
    )
    published = pd.DataFrame([_row("FR1", "collection_agency", "email", "=1+2")])
    write_drafts(tmp_path, published, context)
    pack = tmp_path / "drafts" / "agency" / "FR1"
    cell = openpyxl.load_workbook(pack / "invoices.xlsx").active["A2"]
    assert cell.data_type == "s" and cell.value.endswith("=1+2")
    assert pd.read_csv(pack / "invoices.csv")["invoice_id"].tolist() == ["'=1+2"]
    assert pd.read_csv(pack / "history.csv")["note"].tolist() == ["'@SUM(A1)"]
    assert "Dupont" in PdfReader(pack / "summary.pdf").pages[0].extract_text()
