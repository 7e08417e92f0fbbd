"""Every reject rule of the ingest, in the order of the README's rule table ("Input format",
"Rules"), and the lists each kind of file tries; the check queries that apply them to a file's
rows are in `checks.py` (the collections ledger's, `check_actions`, in `rules_actions.py`).

A rule is an SQL condition over a row's typed values, the rule's name and an SQL message built
only for the rows it rejects. Each kind of file tries its rules in the order its list gives
(`customer_rules`, `invoice_rules`, `payment_rules`, `promise_rules`, `action_rules`), and a row
is rejected with the first one it breaks. The check queries (checks.py) read the file's rows,
type them (`Sql`: dates in the file's order, amounts with its decimal mark, the mapping's value
maps and constants) and give each row its rule and message, or none.

Three rules need the warehouse as well as the row: a payment naming several loaded invoices
(`several_invoices`) and one on an invoice already paid in full (`overpayment`) are found after
the checks (`upsert.REJECT_SEVERAL`, `upsert.overpaid_payments`), run before the
payments are written and again, with `payment_before_issue`, when pending payments stop waiting
(`upsert.ARRIVED_PAYMENTS`); an action about another customer's invoice
(`invoice_of_another_customer`) is checked again when a pending action stops waiting. A file
that cannot be loaded at all is refused earlier, when it is planned (`plan.py`, `formats.py`,
`readers.py`).
"""

from __future__ import annotations

from datetime import date

from pipelines.ingest import amounts
from pipelines.ingest.db import quote
from pipelines.ingest.plan import Plan
from pipelines.ingest.terms import ACCEPTED

# (SQL condition, rule, SQL message): one reject rule as a check query applies it.
Rule = tuple[str, str, str]

TRUE_WORDS = ("1", "true", "t", "yes", "y", "oui", "o", "x")
FALSE_WORDS = ("0", "false", "f", "no", "n", "non", "")
# Absurd values: rejected rather than loaded (rule absurd_value).
MAX_AMOUNT = 1e12
EARLIEST_DATE = date(1990, 1, 1)
MAX_TERMS_DAYS = 730  # due date more than two years after issue


class Sql:
    """Expressions that turn a plan's raw text fields into typed values."""

    def __init__(self, plan: Plan, load_date: date | None) -> None:
        self.plan, self.load_date = plan, load_date
        self.section = plan.section

    def has(self, name: str) -> bool:
        return name in self.plan.fields or bool(self.section and name in self.section.constants)

    def text(self, name: str) -> str:
        """The field's text after the mapping's value map and constants."""
        if name not in self.plan.fields:
            if self.section and name in self.section.constants:
                return quote(self.section.constants[name])
            return "null::varchar"
        values = self.section.values.get(name) if self.section else None
        if not values:
            return name
        cases = " ".join(f"when {quote(k)} then {quote(v)}" for k, v in values.items())
        return f"(case trim({name}) {cases} else {name} end)"

    def date(self, name: str) -> str:
        """SQL: the field as a date in the file's format; else, 5 digits from 30000 to 79999,
        an Excel serial number (days since 1899-12-30: 1982 to 2118) where a sheet's date cell
        was not formatted as a date."""
        text = self.text(name)
        serial = (
            f"case when regexp_full_match(trim({text}), '[3-7][0-9]{{4}}') "
            f"then date '1899-12-30' + cast(trim({text}) as integer) end"
        )
        return f"coalesce({self._date(text)}, {serial})"

    def _date(self, text: str) -> str:
        if self.plan.date_format == "iso":
            # A timestamp with an offset (Z, +01:00) is the business date in the plan's time
            # zone (Europe/Paris unless the mapping says), not its first ten characters (local midnight must not become the previous day).
            zoned = quote(r"(Z|[+-]\d\d(:?\d\d)?)$")
            return (
                f"(case when length(trim({text})) > 10 and regexp_matches(trim({text}), {zoned}) "
                f"then timezone({quote(self.plan.timezone)}, try_cast(trim({text}) as timestamptz))::date "
                f"else try_cast({text} as date) end)"
            )
        return f"try_strptime(trim({text}), {quote(self.plan.date_format)})::date"

    def amount(self, name: str) -> str:
        text = self.text(name)
        # Cents kept exactly: an amount with non-zero digits beyond them (1.505) is not read
        # (bad_amount), never rounded.
        clean = amounts.plain_sql(text)
        if self.plan.decimal_mark == "." and not self.plan.grouped:
            # a symbol or a negative written otherwise, read only when the text is not a
            # number as it stands
            text = f"(case when try_cast({text} as double) is null then {clean} else {text} end)"
            cents = f"try_cast({text} as decimal(18, 2))"
            return f"(case when try_cast({text} as decimal(38, 10)) = {cents} then {cents} end)"
        group = "[ .\u00a0\u202f']" if self.plan.decimal_mark == "," else "[ ,\u00a0\u202f']"
        mark = "[,]" if self.plan.decimal_mark == "," else "[.]"
        shape = quote(rf"[-+]?(\d{{1,3}}({group}\d{{3}})+|\d+)({mark}\d{{0,2}}0*)?")
        number = f"replace(regexp_replace({clean}, {quote(group)}, '', 'g'), ',', '.')"
        return (
            f"(case when regexp_full_match({clean}, {shape}) "
            f"then try_cast({number} as decimal(18, 2)) end)"
        )

    @property
    def date_hint(self) -> str:
        fmt = self.plan.date_format
        return "YYYY-MM-DD" if fmt == "iso" else fmt

    def future(self, expr: str) -> str:
        if self.load_date is None:
            return "false"
        return f"coalesce({expr} > date '{self.load_date.isoformat()}', false)"


def flag(expr: str) -> str:
    """1 for a yes word, 0 for a no word (or empty), null otherwise. A `case` on the value:
    `in (...)` lists are planned as joins, several times slower on 10M rows."""
    yes = " ".join(f"when '{w}' then 1" for w in TRUE_WORDS)
    no = " ".join(f"when '{w}' then 0" for w in FALSE_WORDS)
    return f"(case lower(trim(coalesce({expr}, ''))) {yes} {no} end)"


class Rules:
    """Rule and message columns from rules in order: the first condition that holds names the
    rule. Each condition is evaluated once, into rule_no (in `source`, a subquery over `typed`);
    the message is built only for the rows rejected."""

    def __init__(self, rules: list[Rule]) -> None:
        self.rules = rules

    @property
    def source(self) -> str:
        number = "\n".join(f"when {c} then {i}" for i, (c, _, _) in enumerate(self.rules, 1))
        return f"(select *, case {number} end as rule_no from typed)"

    def __str__(self) -> str:
        names = ", ".join(f"'{r}'" for _, r, _ in self.rules)
        message = "\n".join(f"when {i} then {m}" for i, (_, _, m) in enumerate(self.rules, 1))
        return f"[{names}][rule_no] as rule, case rule_no {message} end as message"


# --------------------------------------------------------------------------- the rules


def wrong_field_count(plan: Plan) -> Rule:
    """The row has more or fewer fields than the header (n_fields -1: a quote opened on its
    line is never closed, readers._line_by_line)."""
    width = len(plan.source.columns)
    return (
        f"n_fields is not null and n_fields <> {width}",
        "wrong_field_count",
        f"case when n_fields < 0 then 'a quote (\") opened on this line is never closed: the "
        f"lines after it were read one by one' else 'row has ' || n_fields || ' fields, the "
        f"header has {width}' end",
    )


def required_value(condition: str, message: str) -> Rule:
    """An id is empty."""
    return (condition, "required_value", quote(message))


def several_invoices() -> Rule:
    """A payment whose invoice_id names several loaded invoices ("F1, F2"): latepay applies a
    payment to one invoice, and the split between them is not in the row. Its condition is over
    the id's parts (`parts`) and those loaded (`known`): upsert.REJECT_SEVERAL checks it on the
    rows that would wait for their invoice (an id of its own, with a comma, is one invoice)."""
    return (
        "parts > 1 and known = parts",
        "several_invoices",
        "'invoice_id names several invoices (' || invoice_id || '): a payment is applied to one "
        "invoice; export one row per invoice paid, with the amount each got'",
    )


def unknown_outcome(outcomes: tuple[str, ...]) -> Rule:
    """A worklist workbook's Outcome is not one of its list (`outcome`: as typed)."""
    accepted = ", ".join(outcomes)
    listed = ", ".join(quote(o) for o in outcomes)
    return (
        f"outcome is not null and not list_contains([{listed}], outcome)",
        "unknown_outcome",
        f"'Outcome ' || outcome || ' is not one of: {accepted}'",
    )


def bad_date(
    s: Sql, column: str, name: str, *, text: str | None = None, optional: bool = False
) -> Rule:
    """A date does not parse with the file's format (`column`: the typed date, null when it does
    not parse; `text`: what the row holds). An optional date may be empty."""
    text = text or s.text(name)
    what = f"'{name} is not a date ({s.date_hint}): ' || "
    if optional:
        return (f"{column} is null and {text} is not null", "bad_date", f"{what}{text}")
    return (f"{column} is null", "bad_date", f"{what}coalesce({text}, '(empty)')")


def bad_amount(
    s: Sql, column: str, name: str, *, optional: bool = False, with_mark: bool = True
) -> Rule:
    """An amount does not parse with the file's decimal mark, or has digits beyond the cents."""
    text = s.text(name)
    mark = f"decimal mark ''{s.plan.decimal_mark}'', " if with_mark else ""
    what = f"'{name} is not a number in cents ({mark}at most 2 decimals): ' || "
    if optional:
        return (f"{column} is null and {text} is not null", "bad_amount", f"{what}{text}")
    return (f"{column} is null", "bad_amount", f"{what}coalesce({text}, '(empty)')")


def bad_number(terms: str, *, forms: str = "") -> Rule:
    """payment_terms_days is not a whole number (an invoice's that its due date is derived
    from: none of the `forms` accepted, `terms.ACCEPTED`)."""
    what = f"not one of {forms}" if forms else "not a whole number"
    return (
        f"terms is null and {terms} is not null",
        "bad_number",
        f"'payment_terms_days is {what}: ' || {terms}",
    )


def bad_flag(disputed: str) -> Rule:
    """disputed is not yes/no."""
    return (
        "not (is_disputed or is_undisputed)",
        "bad_flag",
        f"'disputed is not yes/no: ' || {disputed}",
    )


def bad_currency(currency: str) -> Rule:
    """currency is not a three-letter code."""
    return (
        f"{currency} is not null and not regexp_full_match(upper(trim({currency})), '[A-Z]{{3}}')",
        "bad_currency",
        f"'currency is not a 3-letter code: ' || {currency}",
    )


def currency_mismatch() -> Rule:
    """An amount written with a symbol or code its row's currency contradicts: € but not EUR,
    £ but not GBP, $ but not a dollar (or no currency: which dollar?), USD but not USD."""
    dollars = ", ".join(f"'{c}'" for c in amounts.DOLLARS)
    return (
        f"(sym = '€' and cur <> 'EUR') or (sym = '£' and cur <> 'GBP') "
        f"or (sym = '$' and (cur is null or cur not in ({dollars}))) "
        f"or (length(sym) = 3 and cur <> sym)",
        "currency_mismatch",
        "'amount is written with ' || sym || ' but the row''s currency is ' || "
        "coalesce(cur, 'not given (EUR by default)') || ': they must agree (a currency column, "
        "or currency in the mapping''s [invoices.constants])'",
    )


def cents_in_whole_currency() -> Rule:
    """bad_amount: an amount (or paid_amount) with cents in a currency without minor units."""
    codes = ", ".join(f"'{c}'" for c in amounts.ZERO_DECIMAL_CURRENCIES)
    return (
        f"cur in ({codes}) and (amt <> trunc(amt) or coalesce(paid <> trunc(paid), false))",
        "bad_amount",
        "'amount has cents but ' || cur || ' has no minor unit: ' || amt",
    )


def unknown_action(action: str, actions: tuple[str, ...]) -> Rule:
    """An action that is not one of latepay's (`known_action`: the row's action, read ignoring
    case and surrounding spaces, spaces and hyphens as underscores, is one of them)."""
    return (
        "not known_action",
        "unknown_action",
        f"'action ' || {action} || ' is not one of: {', '.join(actions)}'",
    )


def due_before_issue() -> Rule:
    """due_date before issue_date."""
    return (
        "due < issue",
        "due_before_issue",
        "'due_date ' || due || ' is before issue_date ' || issue",
    )


def absurd_terms(terms: str) -> Rule:
    """absurd_value: a customer's payment terms outside 0..365 days."""
    return (
        "terms < 0 or terms > 365",
        "absurd_value",
        f"'payment_terms_days outside 0..365: ' || {terms}",
    )


def absurd_invoice() -> Rule:
    """absurd_value: an amount ≥ 10¹², issued before EARLIEST_DATE, due more than MAX_TERMS_DAYS
    after issue."""
    return (
        f"abs(amt) >= {MAX_AMOUNT:.0f} or issue < date '{EARLIEST_DATE}' "
        f"or due - issue > {MAX_TERMS_DAYS}",
        "absurd_value",
        f"case when abs(amt) >= {MAX_AMOUNT:.0f} then 'amount is absurd: ' || amt "
        f"when issue < date '{EARLIEST_DATE}' then 'issue_date before {EARLIEST_DATE}: ' || issue "
        f"else 'due_date ' || (due - issue) || ' days after issue_date (more than {MAX_TERMS_DAYS})' end",
    )


def absurd_payment() -> Rule:
    """absurd_value: an amount ≥ 10¹² or paid before EARLIEST_DATE."""
    return (
        f"amt >= {MAX_AMOUNT:.0f} or paid_on < date '{EARLIEST_DATE}'",
        "absurd_value",
        "'absurd amount or date: ' || amt || ' on ' || paid_on",
    )


def absurd_promise(made: str = "promised_on") -> Rule:
    """absurd_value: an amount ≥ 10¹², made before EARLIEST_DATE, promised more than
    MAX_TERMS_DAYS after it was made (`made`: the field the promise was made on, typed `made`)."""
    return (
        f"amt >= {MAX_AMOUNT:.0f} or made < date '{EARLIEST_DATE}' "
        f"or promised - made > {MAX_TERMS_DAYS}",
        "absurd_value",
        f"case when amt >= {MAX_AMOUNT:.0f} then 'amount is absurd: ' || amt "
        f"when made < date '{EARLIEST_DATE}' then '{made} before {EARLIEST_DATE}: ' || made "
        f"else 'promised_date ' || (promised - made) || ' days after {made} (more than {MAX_TERMS_DAYS})' end",
    )


def future_invoice(s: Sql) -> Rule:
    """future_date: issued, settled or disputed after the load date (due dates may be later)."""
    return (
        f"{s.future('issue')} or {s.future('dispute_opened')} or {s.future('settled')}",
        "future_date",
        f"'a date is after the load date {s.load_date}: issue ' || issue"
        " || coalesce(', settled ' || settled, '') || coalesce(', dispute opened ' || dispute_opened, '')",
    )


def future_payment(s: Sql) -> Rule:
    """future_date: paid after the load date."""
    return (
        s.future("paid_on"),
        "future_date",
        f"'payment_date ' || paid_on || ' is after the load date {s.load_date}'",
    )


def payment_before_issue() -> Rule:
    """A payment dated before its invoice's issue date (an invoice in the warehouse; a pending
    payment is checked when its invoice arrives, upsert.match_pending)."""
    return (
        "invoice_issue is not null and paid_on < invoice_issue",
        "payment_before_issue",
        "'payment_date ' || paid_on || ' is before the issue date ' || invoice_issue "
        "|| ' of invoice ' || invoice_id",
    )


def future_promise(s: Sql, made: str = "promised_on") -> Rule:
    """future_date: a promise (or a collector's action) made after the load date. The promised
    date itself may be in the future: that is what a promise is."""
    return (
        s.future("made"),
        "future_date",
        f"'{made} ' || made || ' is after the load date {s.load_date}'",
    )


def settled_before_issue() -> Rule:
    """settled_date before issue_date."""
    return (
        "settled < issue",
        "settled_before_issue",
        "'settled_date ' || settled || ' is before issue_date ' || issue",
    )


def non_positive_payment() -> Rule:
    """A payment ≤ 0."""
    return ("amt <= 0", "non_positive_payment", "'payment amount must be positive: ' || amt")


def non_positive_paid_amount() -> Rule:
    """non_positive_payment: an invoice row's paid_amount ≤ 0 (a credit note's is not checked)."""
    return (
        "settled is not null and paid is not null and paid <= 0 and amt > 0",
        "non_positive_payment",
        "'paid_amount must be positive: ' || paid",
    )


def non_positive_amount() -> Rule:
    """A promised amount ≤ 0 (an empty one is the whole open amount)."""
    return ("amt <= 0", "non_positive_amount", "'promised amount must be positive: ' || amt")


def promised_before_made(made: str = "promised_on") -> Rule:
    """A promise's promised_date before its promised_on (an action's: before its action_date)."""
    return (
        "promised < made",
        "promised_before_made",
        f"'promised_date ' || promised || ' is before {made} ' || made",
    )


def missing_promised_date(kinds: tuple[str, ...]) -> Rule:
    """A promise to pay or payment plan recorded in the ledger without its promised date."""
    listed = ", ".join(quote(k) for k in kinds)
    return (
        f"list_contains([{listed}], act) and promised is null",
        "missing_promised_date",
        "'a ' || act || ' needs a promised_date'",
    )


def bad_open_amount() -> Rule:
    """An open-items export's open_amount below 0 or above the invoice amount (a credit note's is
    not checked); `open_items.py` applies it after the invoices' rules."""
    return (
        "amt > 0 and (open_amt < 0 or open_amt > amt)",
        "bad_open_amount",
        "'open_amount ' || open_amt || ' is not between 0 and the amount ' || amt",
    )


def overpaid_settlement() -> Rule:
    """overpayment: an invoice row's paid_amount above the invoice amount."""
    return (
        "settled is not null and paid is not null and amt > 0 and paid > amt",
        "overpayment",
        "'paid_amount ' || paid || ' exceeds the invoice amount ' || amt",
    )


def invoice_of_another_customer() -> Rule:
    """An action about an invoice that is loaded but belongs to another customer (checked when
    the action is loaded, or when it stops waiting for its customer or invoice)."""
    return (
        "invoice_customer is not null and invoice_customer <> customer_id",
        "invoice_of_another_customer",
        "'invoice ' || invoice_id || ' belongs to customer ' || invoice_customer "
        "|| ', not ' || customer_id",
    )


def duplicate_key(name: str, column: str) -> Rule:
    """A key seen on an earlier line of the same file (the first row wins)."""
    return (
        "repeated",
        "duplicate_key",
        f"'{name} ' || {column} || ' appears earlier in the file, line ' || first_line",
    )


def duplicates(rows: str, key: str) -> str:
    """CTE `dup`: keys found on several rows of the load, with their first line. Hash
    aggregates: much cheaper than numbering rows within each key on 10M rows; the keys' 64-bit
    hashes are grouped first (a quarter cheaper than grouping 10M strings), and only the few
    keys whose hash repeats are grouped exactly."""
    return (
        f"dup_hash as (select hash({key}) as h from {rows} "
        f"where {key} is not null group by h having count(*) > 1), "
        f"dup as (select {key} as k, min(line) as first_line from {rows} "
        f"where {key} is not null and hash({key}) in (select h from dup_hash) "
        f"group by {key} having count(*) > 1)"
    )


# --------------------------------------------------------------------------- each kind's rules


def customer_rules(plan: Plan, s: Sql) -> list[Rule]:
    """The customers' rules, in the order they are tried."""
    terms = s.text("payment_terms_days")
    return [
        wrong_field_count(plan),
        required_value("customer_id is null", "customer_id is empty"),
        bad_number(terms),
        absurd_terms(terms),
        duplicate_key("customer_id", "customer_id"),
    ]


def invoice_rules(plan: Plan, s: Sql, due_text: str) -> list[Rule]:
    """The invoices' rules, in the order they are tried; `due_text`: what the row holds for its
    due date (or how it was derived)."""
    settled, paid = s.has("settled_date"), s.has("paid_amount")
    rules = [
        wrong_field_count(plan),
        required_value(
            "invoice_id is null or customer_id is null", "invoice_id and customer_id are required"
        ),
        bad_date(s, "issue", "issue_date"),
        *([bad_number(s.text("payment_terms_days"), forms=ACCEPTED)] if row_terms(plan) else []),
        bad_date(s, "due", "due_date", text=due_text),
        bad_amount(s, "credit", "credit_amount", optional=True),  # (no credit column: never)
        bad_amount(s, "amt", "amount"),
        bad_flag(disputed(s)),
        bad_date(s, "dispute_opened", "dispute_opened_date", optional=True),
        bad_currency(s.text("currency")),
        currency_mismatch(),
        cents_in_whole_currency(),
    ]
    if settled:
        rules.append(bad_date(s, "settled", "settled_date", optional=True))
    if paid:
        rules.append(bad_amount(s, "paid", "paid_amount", optional=True, with_mark=False))
    rules += [due_before_issue(), absurd_invoice(), future_invoice(s)]
    if settled:
        rules += [settled_before_issue(), non_positive_paid_amount(), overpaid_settlement()]
    rules.append(duplicate_key("invoice_id", "invoice_id"))
    return rules


def payment_rules(plan: Plan, s: Sql) -> list[Rule]:
    """The payments' rules, in the order they are tried; then `overpayment`, against the
    warehouse (upsert.overpaid_payments)."""
    return [
        wrong_field_count(plan),
        required_value(
            "pid is null or coalesce(invoice_id, customer_id) is null",
            "payment_id and invoice_id (or, for a payment on account, customer_id) are required",
        ),
        bad_date(s, "paid_on", "payment_date"),
        bad_amount(s, "amt", "amount"),
        non_positive_payment(),
        absurd_payment(),
        future_payment(s),
        payment_before_issue(),
        duplicate_key("payment_id", "pid"),
    ]


def promise_rules(plan: Plan, s: Sql) -> list[Rule]:
    """The promises' rules, in the order they are tried."""
    return [
        wrong_field_count(plan),
        required_value(
            "pid is null or invoice_id is null", "promise_id and invoice_id are required"
        ),
        bad_date(s, "made", "promised_on"),
        bad_date(s, "promised", "promised_date"),
        bad_amount(s, "amt", "amount", optional=True),
        non_positive_amount(),
        promised_before_made(),
        absurd_promise(),
        future_promise(s),
        duplicate_key("promise_id", "pid"),
    ]


def row_terms(plan: Plan) -> bool:
    """Whether the due date is derived from the row's own payment_terms_days."""
    fixed = plan.section.due_days if plan.section else None  # due_date = "issue_date + N"
    return fixed is None and "due_date" not in plan.fields and "payment_terms_days" in plan.fields


def disputed(s: Sql) -> str:
    return s.text("disputed") if s.has("disputed") else "'0'"
