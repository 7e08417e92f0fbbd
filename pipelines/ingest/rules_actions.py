"""The collections ledger's checks: the actions' rules in the order they are tried, and the
query that applies them to an actions file (or a worklist workbook read as one). Every rule
itself is defined in `rules.py`, in the order of the README's rule table.

An action names its customer and, optionally, its invoice. One whose customer or invoice is not
in staging yet is not rejected: it waits (status 'pending') and is checked again, by
`PENDING_CHECK`, when the load that brings them matches it (`ledger.py`).
"""

from __future__ import annotations

from pipelines.ingest.db import quote
from pipelines.ingest.plan import Plan
from pipelines.ingest.rules import (
    Rule,
    Rules,
    Sql,
    absurd_promise,
    bad_amount,
    bad_date,
    duplicate_key,
    duplicates,
    future_promise,
    invoice_of_another_customer,
    missing_promised_date,
    non_positive_amount,
    promised_before_made,
    required_value,
    unknown_action,
    unknown_outcome,
    wrong_field_count,
)

# Actions that are promises: they need a promised_date and become rows of staging.promises.
PROMISE_ACTIONS = ("promise_to_pay", "payment_plan")


def normal_action(text: str) -> str:
    """An action as latepay spells it: lower case, trimmed, spaces and hyphens as underscores."""
    return f"regexp_replace(lower(trim({text})), '[\\s\\-]+', '_', 'g')"


def action_rules(plan: Plan, s: Sql, actions: tuple[str, ...]) -> list[Rule]:
    """The actions' rules, in the order they are tried (a worklist workbook's first checks its
    Outcome)."""
    first = [wrong_field_count(plan)]
    if plan.workbook:
        from models.ledger import OUTCOMES

        first.append(unknown_outcome(OUTCOMES))
    return [
        *first,
        required_value(
            "customer_id is null or action_text is null or act is null",
            "customer_id, action_date and action are required",
        ),
        bad_date(s, "made", "action_date"),
        bad_date(s, "promised", "promised_date", optional=True),
        bad_amount(s, "amt", "promised_amount", optional=True),
        unknown_action(s.text("action"), actions),
        non_positive_amount(),
        promised_before_made("action_date"),
        missing_promised_date(PROMISE_ACTIONS),
        absurd_promise("action_date"),
        future_promise(s, "action_date"),
        invoice_of_another_customer(),
        duplicate_key("action_id", "aid"),
    ]


def check_actions(plan: Plan, s: Sql) -> str:
    """One row per row of the file: its typed values, `rule` and `message` (null when it
    passes) and `status`: 'loaded', or 'pending' while its customer or invoice is unknown.
    Without action_id (column absent or empty) the key is made of the row: customer, invoice
    (* for the whole customer), date, action and its rank among identical rows."""
    from models.ledger import ACTIONS

    known = ", ".join(quote(a) for a in ACTIONS)
    outcome = f"c{plan.outcome}" if plan.outcome is not None else "null::varchar"
    rules = Rules(action_rules(plan, s, ACTIONS))
    return f"""
        with rows as materialized ({plan.select_rows(f"{outcome} as outcome")}),
        parsed as (
            select * exclude (customer_id, invoice_id, channel, collector, note, action_id),
                {_parsed(s)}
            from rows
        ),
        ided as (
            select p.*, list_contains([{known}], act) as known_action,
                coalesce(given_id, customer_id || '/' || coalesce(invoice_id, '*') || '/'
                    || coalesce(made::varchar, action_text, '') || '/' || coalesce(act, '')
                    || '/' || row_number() over (
                        partition by customer_id, invoice_id, made, act order by line))
                as aid
            from parsed as p
        ),
        {duplicates("ided", "aid")},
        typed as (
            select r.*, coalesce(r.line > dup.first_line, false) as repeated, dup.first_line,
                c.known_customer is not null as customer_known,
                i.invoice_customer
            from ided as r
            left join (select customer_id as known_customer from staging.customers) as c
                on c.known_customer = r.customer_id
            left join (select invoice_id as known_invoice, customer_id as invoice_customer
                       from staging.invoices) as i
                on i.known_invoice = r.invoice_id
            left join dup on dup.k = r.aid
        ),
        ruled as (
            select line, aid, customer_id, invoice_id, made, act, channel, collector, promised,
                amt, note, customer_known, invoice_customer, {rules}
            from {rules.source}
        )
        select *, case when rule is null then
            if(customer_known and (invoice_id is null or invoice_customer is not null),
               'loaded', 'pending') end as status
        from ruled
    """


def _parsed(s: Sql) -> str:
    """The row's values as the checks read them: text trimmed (empty as null), the action as
    latepay spells it (`act`), dates and amount typed (`made`, `promised`, `amt`)."""
    texts = ("customer_id", "invoice_id", "channel", "collector", "note")
    return ",\n".join(
        [
            *(f"nullif(trim({s.text(name)}), '') as {name}" for name in texts),
            f"nullif(trim({s.text('action_date')}), '') as action_text",
            f"nullif({normal_action(s.text('action'))}, '') as act",
            f"{s.date('action_date')} as made",
            f"{s.date('promised_date')} as promised",
            f"{s.amount('promised_amount')} as amt",
            f"nullif(trim({s.text('action_id')}), '') as given_id",
        ]
    )


def pending_check() -> str:
    """A pending action whose customer (and invoice) a load brought is checked as a direct
    load would check it then: `invoice_of_another_customer`. Over temp table `arrived` (the
    rows of staging.pending_actions that stop waiting): temp table `arrived_checked`, with
    `rule` and `message` (null when it passes)."""
    condition, rule, message = invoice_of_another_customer()
    return f"""
        create or replace temp table arrived_checked as
        select a.*, i.invoice_customer,
            case when {condition} then '{rule}' end as rule,
            case when {condition} then {message} end as message
        from arrived as a
        left join (select invoice_id as known_invoice, customer_id as invoice_customer
                   from staging.invoices) as i
            on i.known_invoice = a.invoice_id
    """
