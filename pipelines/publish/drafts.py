"""The drafts of today's work, written with the list: for each row, the email, SMS, letter, call
sheet or formal notice its action needs, and a hand-over pack when an agency hand-over is due.

    drafts/<collector>/<customer_id>_<action>.eml   email (RFC 5322: opens in Outlook, Thunderbird)
                                       .txt   SMS text, or call sheet (what to say, invoices,
                                              promises, disputes, the ledger's history)
                                       .pdf   reminder letter, or formal notice (mise en demeure)
                                              with the statutory interest per half-year and the
                                              40 euro indemnities
    drafts/agency/<customer_id>/       invoices.xlsx, invoices.csv, history.csv, summary.pdf

Nothing is sent. A draft is never made for an invoice in dispute or already with the agency.
Templates are Jinja files (templates/drafts/<fr|en>/), overridden file by file by
LATEPAY_TEMPLATES_DIR/<fr|en>/; French for customers in LATEPAY_FRENCH_LANGUAGE_COUNTRIES.
Amounts are in the invoice's currency, formatted with Babel in the draft's language; PDFs are
made with fpdf2 and the DejaVu font matplotlib ships (every accent, the euro sign; fonts.py).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from email import errors, policy
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path

import jinja2
import pandas as pd
from babel.numbers import format_currency, format_percent
from fpdf import FPDF, FPDFException

from models.penalties import late_periods, penalties, statutory_periods
from pipelines.publish.files import neutralise_frame, safe_name
from pipelines.publish.fonts import FONTS, font_files

LOCALES = {"fr": "fr_FR", "en": "en_GB"}
SUBJECTS = {
    "fr": {
        "friendly_reminder": "Rappel : échéance prochaine",
        "due_date_reminder": "Facture arrivée à échéance",
        "first_reminder": "Relance : facture impayée",
        "final_reminder": "Dernière relance avant mise en demeure",
        "check_promise": "Suivi de votre engagement de paiement",
        "default": "Factures impayées",
    },
    "en": {
        "friendly_reminder": "Reminder: invoice due soon",
        "due_date_reminder": "Invoice due today",
        "first_reminder": "Reminder: unpaid invoice",
        "final_reminder": "Final reminder before formal notice",
        "check_promise": "Your payment commitment",
        "default": "Unpaid invoices",
    },
}
INTROS = {
    "fr": {
        "friendly_reminder": "Nous nous permettons de vous rappeler l'échéance prochaine des "
        "factures suivantes.",
        "final_reminder": "Malgré nos relances, les factures suivantes restent impayées. Sans "
        "règlement de votre part, nous serons contraints de vous adresser une mise en demeure.",
        "broken_promise_call": "Le paiement promis n'est pas arrivé.",
        "default": "Sauf erreur de notre part, les factures suivantes restent impayées.",
    },
    "en": {
        "friendly_reminder": "May we remind you that the following invoices fall due soon.",
        "final_reminder": "Despite our reminders the following invoices remain unpaid. Without "
        "payment we will have to send you a formal notice.",
        "broken_promise_call": "The payment you promised has not arrived.",
        "default": "Unless we are mistaken, the following invoices remain unpaid.",
    },
}
# The action, in the draft's language (the list's own words are English).
ACTIONS_FR = {
    "friendly_reminder": "rappel courtois avant l'échéance",
    "due_date_reminder": "relance le jour de l'échéance",
    "first_reminder": "première relance",
    "second_reminder_call": "deuxième relance : appeler le client",
    "pre_due_call": "appeler pour confirmer que le paiement est prévu",
    "final_reminder": "dernière relance avant mise en demeure",
    "formal_notice": "mise en demeure par lettre recommandée",
    "collection_agency": "transmettre à une société de recouvrement",
    "check_promise": "vérifier le paiement promis",
    "broken_promise_call": "appeler : la promesse de paiement n'a pas été tenue",
}
NO_DRAFT = {"resolve_dispute"}  # a dispute is resolved by talking, not by a reminder
# What the drafts read of the planned invoices, which carry every feature besides: a draft's
# frames and rows (itertuples) are then a dozen columns wide, not ninety
INVOICE_COLUMNS = (
    "invoice_id", "customer_id", "currency", "issue_date", "due_date", "open_amount",
    "days_past_due", "is_disputed", "with_agency", "promised_date", "promise_status",
)  # fmt: skip


@dataclass
class DraftContext:
    """What every draft of one list needs beside its rows."""

    as_of: pd.Timestamp
    company: dict  # name, address (list of lines), siren, iban, email, signature
    customers: pd.DataFrame  # customer_id, name, country (and email when known)
    invoices: pd.DataFrame  # the planned invoices, with currency and issue_date (INVOICE_COLUMNS)
    history: pd.DataFrame  # the ledger: customer_id, invoice_id, action_date, action, channel, note
    rates: pd.DataFrame  # half_year_start, ecb_main_refinancing_rate
    french_law: set[str]
    french_language: set[str]
    deadline_days: int = 8
    templates_dir: Path | None = None
    written: list[Path] = field(default_factory=list)
    half_years: list = field(init=False)  # statutory_periods(rates), for every draft

    def __post_init__(self) -> None:
        self.invoices = self.invoices[[c for c in self.invoices if c in INVOICE_COLUMNS]]
        self.half_years = statutory_periods(self.rates)


def write_drafts(folder: Path, published: pd.DataFrame, context: DraftContext) -> list[Path]:
    """The drafts of every published row, under `folder`/drafts; returns the files written."""
    for row in published.itertuples():
        if row.next_action_key in NO_DRAFT:
            continue
        invoices = _draftable(row, context)
        if invoices.empty:
            continue
        customer = _customer(context, row.customer_id)
        if row.next_action_key == "collection_agency":
            _agency_pack(folder / "drafts" / "agency" / safe_name(row.customer_id), row, invoices,
                         customer, context)  # fmt: skip
            continue
        target = (
            folder
            / "drafts"
            / safe_name(row.collector)
            / f"{safe_name(row.customer_id)}_{row.next_action_key}"
        )
        _draft(target, row, invoices, customer, context)
    return context.written


def _draftable(row, context: DraftContext) -> pd.DataFrame:
    """The row's invoices that may get a draft: not disputed, not with the agency."""
    ids = [i.strip() for i in str(row.action_invoices).split(",") if i.strip()]
    invoices = context.invoices[context.invoices["invoice_id"].isin(ids)]
    return invoices[~invoices["is_disputed"].astype(bool) & ~invoices["with_agency"]]


def _customer(context: DraftContext, customer_id: str) -> dict:
    found = context.customers[context.customers["customer_id"] == customer_id]
    record = found.iloc[0].to_dict() if len(found) else {"customer_id": customer_id}
    record.setdefault("name", customer_id)
    # on one line: a name is a line of a letter's address, or part of a user's subject
    name = record["name"] if isinstance(record["name"], str) else customer_id
    record["name"] = " ".join(name.split())
    country = str(record.get("country") or "").upper()[:2]
    record["language"] = "fr" if country in context.french_language else "en"
    record["french_law"] = country in context.french_law
    return record


def _draft(target: Path, row, invoices: pd.DataFrame, customer: dict, context: DraftContext):
    values = _values(row, invoices, customer, context)
    if row.next_action_key == "formal_notice":
        _pdf(
            target.with_suffix(".pdf"),
            _render(context, customer, "formal_notice.html.j2", values),
            context,
        )
    elif row.next_action_channel == "phone":
        _text(
            target.with_suffix(".txt"),
            _render(context, customer, "call_sheet.txt.j2", values),
            context,
        )
    elif row.next_action_channel == "letter":
        _pdf(
            target.with_suffix(".pdf"),
            _render(context, customer, "reminder_letter.html.j2", values),
            context,
        )
    elif row.next_action_channel == "sms":
        _text(
            target.with_suffix(".txt"),
            _render(context, customer, "reminder_sms.txt.j2", values),
            context,
        )
    else:
        _email(target.with_suffix(".eml"), _render(context, customer, "reminder_email.txt.j2", values),
               customer, context)  # fmt: skip


def _values(row, invoices: pd.DataFrame, customer: dict, context: DraftContext) -> dict:
    """Everything a template may show, amounts formatted in the draft's language."""
    language = customer["language"]
    owed = penalties(
        invoices, context.as_of, context.rates,
        french_law=pd.Series(customer["french_law"], index=invoices.index),
    )  # fmt: skip
    money = _Money(language)
    lines = []
    for invoice, fine in zip(invoices.itertuples(), owed.itertuples(), strict=True):
        lines.append(
            {
                "invoice_id": invoice.invoice_id,
                "issued": _day(invoice.issue_date),
                "due": _day(invoice.due_date),
                "days_late": fine.days_late,
                "open": money(invoice.open_amount, invoice.currency),
                "interest": money(fine.interest, invoice.currency),
                "indemnity": money(fine.indemnity_eur, "EUR"),
                "promised": _day(getattr(invoice, "promised_date", None)),
            }
        )
    return {
        "as_of": _day(context.as_of),
        "deadline": _day(context.as_of + pd.Timedelta(days=context.deadline_days)),
        "company": context.company,
        "customer": customer,
        "action": ACTIONS_FR.get(row.next_action_key, row.next_action)
        if language == "fr"
        else row.next_action,
        "invoices": lines,
        "subject": SUBJECTS[language].get(row.next_action_key, SUBJECTS[language]["default"]),
        "intro": INTROS[language].get(row.next_action_key, INTROS[language]["default"]),
        "french_law": customer["french_law"],
        "periods": _periods(invoices, context, money),
        "history": _history(context, row.customer_id),
        "disputes": _disputes(context, row.customer_id),
        **_totals(invoices, owed, money, _credit(row)),
    }


def _credit(row) -> dict[str, float]:
    """The customer's unapplied credit (credit notes and payments on account not yet applied)
    in the row's currency, as the worklist gives it (customer_credit_amount); none without the
    column."""
    amount = getattr(row, "customer_credit_amount", 0.0)
    return {row.currency: float(amount)} if amount == amount and amount > 0 else {}


def _totals(
    invoices: pd.DataFrame, owed: pd.DataFrame, money, credit: dict[str, float] | None = None
) -> dict:
    """Totals per currency (never summed across currencies); the euro indemnities apart. The
    customer's `credit` per currency (credit notes and payments on account not yet applied) is
    deducted from what is asked, never below 0: total_net (the invoices less it) and total_due;
    total_credit is "" without."""
    frame = invoices[["currency", "open_amount"]].assign(interest=owed["interest"].to_numpy())
    by = frame.groupby("currency", sort=True)[["open_amount", "interest"]].sum()
    indemnity = float(owed["indemnity_eur"].sum())
    due = by["open_amount"] + by["interest"]
    if "EUR" in due.index:
        due.loc["EUR"] += indemnity
    elif indemnity:
        due.loc["EUR"] = indemnity
    credit = pd.Series(credit or {}, dtype=float)
    credit = credit[credit.index.isin(by.index)]  # (a credit in another currency offsets none)
    net = (by["open_amount"] - credit.reindex(by.index, fill_value=0.0)).clip(lower=0.0)
    due = (due - credit.reindex(due.index, fill_value=0.0)).clip(lower=0.0)

    def join(values: pd.Series) -> str:
        return " + ".join(money(v, c) for c, v in values.items())

    return {
        "total": join(by["open_amount"]),
        "total_credit": join(credit) if len(credit) else "",
        "total_net": join(net),
        "total_interest": join(by["interest"]),
        "total_indemnity": money(indemnity, "EUR"),
        "total_due": join(due),
    }


def _periods(invoices: pd.DataFrame, context: DraftContext, money) -> list[dict]:
    rows = []
    for invoice in invoices.itertuples():
        periods = late_periods(
            invoice.open_amount, invoice.due_date, context.as_of, context.half_years
        )
        for p in periods:
            rows.append(
                {
                    "invoice_id": invoice.invoice_id,
                    "start": _day(p["start"]),
                    "end": _day(p["end"] - pd.Timedelta(days=1)),
                    "days": p["days"],
                    "rate": money.percent(p["rate"]),
                    "interest": money(p["interest"], invoice.currency),
                }
            )
    return rows


def _history(context: DraftContext, customer_id: str) -> list[dict]:
    rows = context.history[context.history["customer_id"] == customer_id]
    rows = rows.sort_values("action_date").tail(20)
    return [
        {
            "action_date": _day(r.action_date),
            "action": str(r.action).replace("_", " "),
            "channel": r.channel if isinstance(r.channel, str) else "",
            "note": r.note if isinstance(r.note, str) else "",
        }
        for r in rows.itertuples()
    ]


def _disputes(context: DraftContext, customer_id: str) -> str:
    mine = context.invoices[
        (context.invoices["customer_id"] == customer_id)
        & context.invoices["is_disputed"].astype(bool)
    ]
    return ", ".join(mine["invoice_id"].astype(str))


class _Money:
    """Amounts and rates written in a language's locale (Babel): `money(12.5, "EUR")`."""

    def __init__(self, language: str) -> None:
        self.locale = LOCALES[language]

    def __call__(self, amount: float, currency: object) -> str:
        code = currency if isinstance(currency, str) and len(currency) == 3 else "EUR"
        return format_currency(float(amount), code, locale=self.locale)

    def percent(self, rate: float) -> str:
        return format_percent(rate, "#,##0.00%", locale=self.locale)


def _day(value: object) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    return f"{pd.Timestamp(value):%Y-%m-%d}"


@functools.cache
def _environment(templates_dir: Path | None, language: str, html: bool) -> jinja2.Environment:
    """The drafts' templates of `language`: the user's in `templates_dir` first. One per process
    and kind: Jinja compiles a template once per environment (and reloads a changed file)."""
    loaders: list[jinja2.BaseLoader] = []
    if templates_dir:
        loaders.append(jinja2.FileSystemLoader(str(Path(templates_dir) / language)))
    loaders.append(jinja2.PackageLoader("pipelines.publish", f"templates/drafts/{language}"))
    return jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        autoescape=html,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )


# Control characters from the data (escape sequences, bells) mean nothing in a draft, and fpdf2
# warned of each one on the terminal, raw: removed (tab, line feed and carriage return kept).
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def _render(context: DraftContext, customer: dict, name: str, values: dict) -> str:
    env = _environment(context.templates_dir, customer["language"], html=name.endswith(".html.j2"))
    return CONTROL.sub("", env.get_template(name).render(**values))


def _text(path: Path, text: str, context: DraftContext) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    context.written.append(path)


def _email(path: Path, text: str, customer: dict, context: DraftContext) -> None:
    """An RFC 5322 message: the template's first line is the subject."""
    subject, _, body = text.partition("\n")
    message = EmailMessage()
    message["Subject"] = _header(subject.removeprefix("Subject:"))
    message["From"] = _header(context.company.get("email") or context.company.get("name", ""))
    to, why_not = _recipients(customer.get("email"))
    if to:
        message["To"] = to
    else:  # the collector fills it in; the draft says why it is empty
        message["X-Latepay-Note"] = f"To: left empty: {why_not}"
    message["Date"] = formatdate(localtime=False)
    message["X-Unsent"] = "1"  # Outlook opens it as a draft to send
    message.set_content(body.lstrip("\n"))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(message))
    context.written.append(path)


def _header(value: object) -> str:
    """A header value on one line: line breaks from the data (a customer's name in a user's
    subject, say) become spaces, so they can neither add a header nor stop the publish."""
    return " ".join(str(value).split())


def _recipients(value: object) -> tuple[str, str]:
    """(the To: value, "") for the customer's addresses (',' or ';' between them), or ("", why)
    when there is none or one the email package cannot read (never a half-read address: "a@b.c
    Bcc: x@y.z" was read as a@b.c alone)."""
    text = _header(value if isinstance(value, str) else "").replace(";", ",")
    if not text:
        return "", "no e-mail address in the customers' export"
    parsed = policy.default.header_factory("To", text)
    # (an address in Unicode, jöhn@exämple.com, is one: mail clients send it)
    defects = [d for d in parsed.defects if not isinstance(d, errors.NonASCIILocalPartDefect)]
    if (
        defects
        or not parsed.addresses
        or any(not (a.username and a.domain) for a in parsed.addresses)
    ):
        return "", f"the customer's e-mail {text!r} is not an address"
    return text, ""


def _pdf(path: Path, html: str, context: DraftContext) -> None:
    # Reading a font costs time for each document (fonts.py): the italic one only when the text
    # uses it (our templates do not; a user's own may)
    try:
        pdf = _document(html, styles=("", "B"))
    except FPDFException:
        pdf = _document(html, styles=tuple(FONTS))
    path.parent.mkdir(parents=True, exist_ok=True)
    pdf.output(str(path))
    context.written.append(path)


def _document(html: str, styles: tuple[str, ...]) -> FPDF:
    """An A4 document of `html` in DejaVu, with the font `styles` (fonts.py)."""
    pdf = FPDF(format="A4")
    for style, path in font_files(html, styles).items():
        pdf.add_font("DejaVu", style, str(path))
    pdf.set_font("DejaVu", size=10)
    pdf.add_page()
    pdf.write_html(html)
    return pdf


def _agency_pack(folder: Path, row, invoices: pd.DataFrame, customer: dict, context: DraftContext):
    """The file an agency needs: the invoices, the ledger's history, a one-page summary."""
    folder.mkdir(parents=True, exist_ok=True)
    values = _values(row, invoices, customer, context)
    columns = ["invoice_id", "currency", "issue_date", "due_date", "open_amount", "days_past_due"]
    # the agency opens these in a spreadsheet: a text that starts like a formula stays text
    table = neutralise_frame(invoices[columns])
    table.to_csv(folder / "invoices.csv", index=False)
    table.to_excel(
        folder / "invoices.xlsx",
        index=False,
        engine="xlsxwriter",
        engine_kwargs={"options": {"strings_to_formulas": False, "strings_to_urls": False}},
    )
    history = context.history[context.history["customer_id"] == row.customer_id]
    neutralise_frame(history).to_csv(folder / "history.csv", index=False)
    actions = history["action"].astype(str)
    promised = context.invoices[context.invoices["customer_id"] == row.customer_id]
    notices = history.loc[actions == "formal_notice_sent", "action_date"]
    values |= {
        "notice": _day(notices.max()) if len(notices) else "",
        "promises_made": int((actions == "promise_to_pay").sum()),
        "promises_broken": int(
            (promised.get("promise_status", pd.Series(dtype=str)) == "broken").sum()
        ),
    }
    _pdf(
        folder / "summary.pdf",
        _render(context, customer, "agency_summary.html.j2", values),
        context,
    )
    context.written.extend(
        [folder / "invoices.csv", folder / "invoices.xlsx", folder / "history.csv"]
    )
