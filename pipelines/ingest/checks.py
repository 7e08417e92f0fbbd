"""The check queries: each reads a file's rows, types them (`Sql`: dates in the file's order,
amounts with its decimal mark, the mapping's value maps and constants) and gives each row the
first rule it breaks (rules.py, in the order of the kind's list), or none. `upsert.py` reads the
result as temp table `checked`."""

from __future__ import annotations

from collections.abc import Callable

from pipelines.ingest import amounts
from pipelines.ingest.plan import Plan
from pipelines.ingest.rules import (
    Rules,
    Sql,
    customer_rules,
    disputed,
    duplicates,
    flag,
    invoice_rules,
    payment_rules,
    promise_rules,
    row_terms,
)
from pipelines.ingest.terms import due_from_terms, terms_days

# --------------------------------------------------------------------------- the check queries
# Each gives one row per row of the file: its line, typed values and `rule`, `message` (null
# for a row that passes); `upsert.py` reads it as temp table `checked`.


def check_customers(plan: Plan, s: Sql) -> str:
    terms = s.text("payment_terms_days")
    rules = Rules(customer_rules(plan, s))
    return f"""
        with rows as not materialized ({plan.raw_rows}),
        {duplicates("rows", "customer_id")},
        typed as (
            select r.*,
                try_cast({terms} as integer) as terms,
                coalesce(r.line > dup.first_line, false) as repeated,
                dup.first_line
            from rows as r left join dup on dup.k = r.customer_id
        )
        select line, customer_id, name, country, segment, terms, preferred_channel, collector,
            {rules}
        from {rules.source}
    """


def _due_date(plan: Plan, s: Sql) -> tuple[str, str, str]:
    """(the due date, the text a bad_date message shows for it, a join it needs): the file's
    column, or derived from the issue date (a mapping's days, the row's terms, the customer's)."""
    section = plan.section
    if "due_date" in plan.fields:
        return s.date("due_date"), s.text("due_date"), ""
    if section and section.due_days is not None:
        return f"issue + {section.due_days}", "'(derived)'", ""
    if row_terms(plan):  # "30", "net 30", "45 fin de mois"... (terms.py)
        due = due_from_terms("issue", s.text("payment_terms_days"))
        due_text = (
            "'(issue date + payment_terms_days: ' || coalesce(payment_terms_days, 'empty') || ')'"
        )
        return due, due_text, ""
    join = (  # due_from_terms with the customer's terms
        "left join (select customer_id as terms_of, payment_terms_days as customer_terms "
        "from staging.customers) as sc on sc.terms_of = r.customer_id"
    )
    return "issue + customer_terms", "'(no payment terms for customer ' || customer_id || ')'", join


def check_invoices(plan: Plan, s: Sql) -> str:
    due, due_text, join = _due_date(plan, s)
    disputed_text = disputed(s)
    currency = s.text("currency")
    amount = f"concat({s.text('amount')}, {s.text('credit_amount')})"
    symbol = amounts.symbol_of(amount)
    rules = Rules(invoice_rules(plan, s, due_text))
    return f"""
        with rows as not materialized ({plan.raw_rows}),
        {duplicates("rows", "invoice_id")},
        typed as (
            select r.*,
                {s.date("issue_date")} as issue,
                {due} as due,
                {terms_days(s.text("payment_terms_days"))} as terms,
                {amounts.invoice_amount(s)} as amt,
                {s.amount("credit_amount")} as credit,
                {s.date("dispute_opened_date")} as dispute_opened,
                {s.date("settled_date")} as settled,
                {s.amount("paid_amount")} as paid,
                {amounts.symbol_currency(symbol, currency)} as cur,
                {symbol} as sym,
                coalesce({flag(disputed_text)} = 1, false) as is_disputed,
                coalesce({flag(disputed_text)} = 0, false) as is_undisputed,
                coalesce(r.line > dup.first_line, false) as repeated,
                dup.first_line
            from rows as r {join}
            left join dup on dup.k = r.invoice_id
        )
        select line, invoice_id, customer_id, issue, due, amt, cur, is_disputed,
            dispute_opened, settled, paid, customer_name, {rules}
        from {rules.source}
    """


def check_payments(plan: Plan, s: Sql) -> str:
    # (what a payment is for, in the id made for it: its invoice, else its customer's account)
    paid_to = "coalesce(r.invoice_id, 'account ' || r.customer_id)"
    pid = (
        "r.payment_id"
        if "payment_id" in plan.fields
        else f"{paid_to} || '/' || r.payment_date || '/' || r.amount || '/' || "
        f"row_number() over (partition by {paid_to}, r.payment_date, r.amount order by r.line)"
    )
    rules = Rules(payment_rules(plan, s))
    # Read twice (duplicates, checks): not copied first unless the id is numbered.
    materialized = "not materialized" if "payment_id" in plan.fields else "materialized"
    return f"""
        with ided as {materialized} (
            select r.*, {pid} as pid from ({plan.raw_rows}) as r
        ),
        {duplicates("ided", "pid")},
        typed as (
            select r.*,
                {s.date("payment_date")} as paid_on,
                {s.amount("amount")} as amt,
                coalesce(r.line > dup.first_line, false) as repeated,
                dup.first_line,
                i.known_id is not null as invoice_known,
                i.invoice_amount,
                i.invoice_issue
            from ided as r
            left join (select invoice_id as known_id, amount as invoice_amount,
                              issue_date as invoice_issue
                       from staging.invoices) as i
                on i.known_id = r.invoice_id
            left join dup on dup.k = r.pid
        ),
        checked as (
            select line, pid, invoice_id, customer_id, paid_on, amt, invoice_known, invoice_amount,
                {rules}
            from {rules.source}
        )
        select *,
            case when rule is not null then null when invoice_id is null then 'on_account'
                when invoice_known then 'loaded' else 'pending' end as status
        from checked
    """


def check_promises(plan: Plan, s: Sql) -> str:
    # Without promise_id: one promise per invoice and day made (a second one is a duplicate).
    made = s.date("promised_on")
    pid = (
        "r.promise_id"
        if "promise_id" in plan.fields
        else f"r.invoice_id || '/' || coalesce(({made})::varchar, r.promised_on, '')"
    )
    rules = Rules(promise_rules(plan, s))
    return f"""
        with ided as not materialized (
            select r.*, {pid} as pid from ({plan.raw_rows}) as r
        ),
        {duplicates("ided", "pid")},
        typed as (
            select r.*,
                {made} as made,
                {s.date("promised_date")} as promised,
                {s.amount("amount")} as amt,
                coalesce(r.line > dup.first_line, false) as repeated,
                dup.first_line,
                i.known_id is not null as invoice_known
            from ided as r
            left join (select invoice_id as known_id from staging.invoices) as i
                on i.known_id = r.invoice_id
            left join dup on dup.k = r.pid
        )
        select line, pid, invoice_id, made, promised, amt, invoice_known, {rules}
        from {rules.source}
    """


CHECKS: dict[str, Callable[[Plan, Sql], str]] = {
    "customers": check_customers,
    "invoices": check_invoices,
    "payments": check_payments,
    "promises": check_promises,
}
