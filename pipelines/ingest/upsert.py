"""Writing a file's checked rows (temp table `checked`, from `rules.py`) to staging.

Each row is compared with the current one by key: new rows are added, unchanged ones change
nothing, a changed invoice or promise is a new version (the replaced one kept in
`staging.invoice_versions` / `staging.promise_versions`), a changed customer or payment is
replaced. A payment or promise whose invoice has not arrived waits in `staging.pending_<kind>`
and moves to staging with the load that brings its invoice. Invoice rows carrying a settlement
date become payments (`derive_payments`). The collections ledger (actions) is written by
`ledger.py`; the customers' and invoices' loads match the actions that waited for them.

Each upsert returns its counts: new, unchanged, updated (and derived, matched for invoices).
"""

from __future__ import annotations

from collections.abc import Callable

import duckdb

from pipelines.ingest.db import delete_payments, run, touch
from pipelines.ingest.ledger import match_pending_actions, refresh_invoice_disputes, upsert_actions
from pipelines.ingest.plan import Plan
from pipelines.ingest.rules import payment_before_issue, several_invoices
from pipelines.ingest.terms import over_cap

SETTLEMENT_SUFFIX = "#settlement"  # payment_id of a payment derived from an invoice row

# What waits in staging.pending_<kind> for its invoice: key and columns of staging.<kind>.
PENDING = {
    "payments": ("payment_id", "payment_id, invoice_id, payment_date, amount, load_id"),
    "promises": (
        "promise_id",
        "promise_id, invoice_id, promised_on, promised_date, amount, load_id",
    ),
}
# The dispute's opening date of a checked invoice row (`c`): given, else the issue date.
OPENED = "case when c.is_disputed then coalesce(c.dispute_opened, c.issue) end"


def upsert_customers(con: duckdb.DuckDBPyConnection, plan: Plan, load_id: int) -> dict[str, int]:
    run(
        con,
        """
        create or replace temp table upsert as
        select c.customer_id, c.name, c.country, c.segment, c.terms as payment_terms_days,
            c.preferred_channel, coalesce(c.collector, 'unassigned') as collector,
            case
                when s.customer_id is null then 'new'
                when s.name is not distinct from c.name
                    and s.country is not distinct from c.country
                    and s.segment is not distinct from c.segment
                    and s.payment_terms_days is not distinct from c.terms
                    and s.preferred_channel is not distinct from c.preferred_channel
                    and s.collector is not distinct from coalesce(c.collector, 'unassigned')
                    then 'unchanged'
                else 'updated'
            end as change
        from checked as c left join staging.customers as s using (customer_id)
        where c.rule is null
        """,
    )
    run(
        con,
        """
        insert or replace into staging.customers
        select customer_id, name, country, segment, payment_terms_days, preferred_channel,
            collector, $id
        from upsert where change <> 'unchanged'
        """,
        id=load_id,
    )
    run(con, "alter table checked add column status varchar default 'loaded'")
    counts = dict(run(con, "select change, count(*) from upsert group by change"))
    return counts | match_pending_actions(con, load_id)


def _counts(con: duckdb.DuckDBPyConnection, valid: str) -> dict[str, int]:
    """new / unchanged / updated among the `valid` rows of `checked`, from temp table
    `existing` (the rows already in staging, with whether they are the same)."""
    [(rows, unchanged, updated)] = run(
        con,
        f"select (select count(*) from checked where {valid}), "
        "count(*) filter (where same), count(*) filter (where not same) from existing",
    )
    return {"new": rows - unchanged - updated, "unchanged": unchanged, "updated": updated}


# --------------------------------------------------------------------------- invoices


def upsert_invoices(con: duckdb.DuckDBPyConnection, plan: Plan, load_id: int) -> dict[str, int]:
    """Invoices (and their disputes) to staging, versioned; customers not yet known added by
    id; settlement dates become payments; pending payments and promises matched."""
    # Only rows whose invoice_id is already in staging are compared (none on a first load).
    run(
        con,
        f"""
        create or replace temp table existing as
        select c.invoice_id,
            s.customer_id = c.customer_id and s.issue_date = c.issue and s.due_date = c.due
                and s.amount = c.amt and s.currency is not distinct from c.cur
                and s.disputed = c.is_disputed
                and d.export_opened_date is not distinct from ({OPENED}) as same
        from checked as c
        join staging.invoices as s on s.invoice_id = c.invoice_id
        left join staging.disputes as d on d.invoice_id = c.invoice_id
        where c.rule is null
        """,
    )
    counts = _counts(con, "rule is null")
    if counts["updated"]:
        _version_invoices(con, load_id)
    _add_unknown_customers(con, plan, load_id)
    changed = "rule is null" + (
        " and invoice_id not in (select invoice_id from existing where same)"
        if counts["unchanged"]
        else ""
    )
    over = over_cap("issue", "due", "amt")  # terms over the French caps (terms.py)
    run(
        con,
        f"""
        insert into staging.invoices
        select invoice_id, customer_id, issue, due, amt, cur, is_disputed, $id, {over}
        from checked where {changed}
        """,
        id=load_id,
    )
    [(counts["terms_over_cap"],)] = run(  # the file's invoices, unchanged ones too
        con, f"select count(*) from checked where rule is null and {over}"
    )
    run(
        con,
        f"""
        insert into staging.disputes (invoice_id, opened_date, export_opened_date)
        select invoice_id, {OPENED.replace("c.", "")}, {OPENED.replace("c.", "")}
        from checked where {changed} and is_disputed
        """,
    )
    refresh_invoice_disputes(con)  # the ledger's disputes on them, merged again
    if "settled_date" in plan.fields:
        counts["derived"] = derive_payments(con, load_id)
    counts["matched"] = match_pending(con, "payments", load_id)
    [(payments_rejected,)] = run(con, "select count(*) from arrived_rejected")
    counts["promises_matched"] = match_pending(con, "promises", load_id)
    counts |= match_pending_actions(con, load_id)
    counts["pending_rejected"] = counts.get("pending_rejected", 0) + payments_rejected
    run(con, "alter table checked add column status varchar default 'loaded'")
    return counts


def _version_invoices(con: duckdb.DuckDBPyConnection, load_id: int) -> None:
    """Versioned update: the version being replaced is kept, with the load that replaced it."""
    run(
        con,
        """
        insert into staging.invoice_versions
        select s.invoice_id, s.customer_id, s.issue_date, s.due_date, s.amount, s.currency,
            s.disputed, d.export_opened_date, s.load_id, $id
        from staging.invoices as s
        join existing as e on e.invoice_id = s.invoice_id and not e.same
        left join staging.disputes as d on d.invoice_id = s.invoice_id
        """,
        id=load_id,
    )
    run(
        con,
        "delete from staging.invoices where invoice_id in "
        "(select invoice_id from existing where not same)",
    )
    run(
        con,
        "delete from staging.disputes where invoice_id in "
        "(select invoice_id from existing where not same)",
    )


def _add_unknown_customers(con: duckdb.DuckDBPyConnection, plan: Plan, load_id: int) -> None:
    """Customers the invoices name that staging does not hold yet: by id (and name, if given)."""
    name = "any_value(customer_name)" if "customer_name" in plan.fields else "null"
    run(
        con,
        f"""
        insert into staging.customers
        select customer_id, {name}, null, null, null, null, 'unassigned', $id
        from checked
        where rule is null
          and customer_id not in (select customer_id from staging.customers)
        group by customer_id
        """,
        id=load_id,
    )


def derive_payments(con: duckdb.DuckDBPyConnection, load_id: int) -> int:
    """Invoice rows that carry a settlement date (and maybe the amount paid) become payments,
    payment_id = invoice_id || '#settlement'; a row whose settlement date disappeared removes it."""
    run(
        con,
        f"""
        create or replace temp table derived as
        select invoice_id || '{SETTLEMENT_SUFFIX}' as payment_id, invoice_id,
            settled as payment_date, coalesce(paid, amt) as amount
        from checked where rule is null and settled is not null and amt > 0
        """,
    )
    [(derived,)] = run(
        con,
        """
        select count(*) from derived as d
        left join staging.payments as p using (payment_id)
        where p.payment_id is null or p.payment_date <> d.payment_date or p.amount <> d.amount
        """,
    )
    delete_payments(
        con, f"select invoice_id || '{SETTLEMENT_SUFFIX}' from checked where rule is null"
    )
    run(
        con,
        "insert into staging.payments select payment_id, invoice_id, payment_date, amount, $id "
        "from derived",
        id=load_id,
    )
    return derived


def match_pending(con: duckdb.DuckDBPyConnection, kind: str, load_id: int) -> int:
    """Payments or promises that waited for their invoice move to staging.<kind> once it is
    there; returns how many moved."""
    key, columns = PENDING[kind]
    arrived = "invoice_id in (select invoice_id from staging.invoices)"
    [(waiting,)] = run(con, f"select count(*) from staging.pending_{kind} where {arrived}")
    if kind == "payments":
        waiting -= _reject_arrived_payments(con, load_id)
    if waiting:
        replaced = f"select {key} from staging.pending_{kind} where {arrived}"
        if kind == "payments":  # (they keep the load_id of the load that read them)
            touch(con, f"select invoice_id from staging.pending_payments where {arrived}")
            delete_payments(con, replaced)
        else:
            run(con, f"delete from staging.{kind} where {key} in ({replaced})")
        run(
            con,
            f"insert into staging.{kind} select {columns} from staging.pending_{kind} "
            f"where {arrived}",
        )
        run(con, f"delete from staging.pending_{kind} where {arrived}")
    return waiting


# overpayment: a payment on an invoice already paid in full by earlier payments (or on a credit
# note); the payment that completes an invoice is kept even if it overshoots. One query for both
# paths (a payments file's rows, and pending payments whose invoice arrived): of `candidates`
# (payment_id, invoice_id, payment_date, amount, invoice_amount), only invoices whose payments
# add up to more than their amount are examined, with the payments already in staging for them.
def overpaid_payments(candidates: str) -> str:
    """SQL: the candidates that overpay (payment_id, message)."""
    return f"""
    with candidate as not materialized ({candidates}),
    earlier as (
        select p.payment_id, p.invoice_id, p.payment_date, p.amount
        from staging.payments as p
        where p.invoice_id in (select invoice_id from candidate)
          and p.payment_id not in (select payment_id from candidate)
    ),
    totals as (
        select invoice_id, sum(amount) as paid, any_value(invoice_amount) as invoice_amount
        from candidate group by invoice_id
    ),
    suspects as (
        select t.invoice_id, t.invoice_amount
        from totals as t
        left join (select invoice_id, sum(amount) as paid from earlier group by invoice_id)
            as e using (invoice_id)
        where t.paid + coalesce(e.paid, 0) > t.invoice_amount
    ),
    everything as (
        select payment_id, invoice_id, payment_date, amount, true as candidate from candidate
        union all
        select payment_id, invoice_id, payment_date, amount, false from earlier
    ),
    ordered as (
        select e.*, s.invoice_amount,
            coalesce(sum(e.amount) over (
                partition by e.invoice_id order by e.payment_date, e.payment_id
                rows between unbounded preceding and 1 preceding), 0) as paid_before
        from everything as e join suspects as s using (invoice_id)
    )
    select payment_id,
        'invoice ' || invoice_id || ' (amount ' || invoice_amount
            || ') was already paid in full (' || paid_before || ') before this payment' as message
    from ordered
    where candidate and (invoice_amount <= 0 or paid_before >= invoice_amount)
    """


def _parts(key: str, table: str, condition: str = "true") -> str:
    """SQL: per `key` of the rows of `table` (that meet `condition`) whose invoice_id lists
    several ("F1, F2", "F1;F2", "F1 + F2"), how many `parts` it lists and how many are `known`
    invoices."""
    return f"""
        select c.{key}, count(*) as parts, count(i.invoice_id) as known
        from (select {key}, invoice_id from {table}
              where {condition} and regexp_matches(invoice_id, '[,;+&]')) as c,
            unnest(string_split_regex(c.invoice_id, '\\s*[,;+&]\\s*')) as t(part)
        left join (select invoice_id from staging.invoices) as i
            on i.invoice_id = trim(t.part)
        group by c.{key}
    """


# A payments file's rows that would wait for an invoice whose id lists several loaded ones
# ("F1, F2"): rejected (rules.several_invoices). Only those rows are split and looked up.
SEVERAL = several_invoices()
REJECT_SEVERAL = f"""
    update checked set rule = '{SEVERAL[1]}', status = null, message = {SEVERAL[2]}
    from ({_parts("line", "checked", "status = 'pending'")}) as s
    where checked.line = s.line and {SEVERAL[0]}
"""
# A payments file's rows that passed their own rules (`checked`, status 'loaded').
REJECT_OVERPAID = f"""
    update checked set rule = 'overpayment', status = null, message = o.message
    from ({
    overpaid_payments(
        "select pid as payment_id, invoice_id, paid_on as payment_date, amt as amount, "
        "invoice_amount from checked where status = 'loaded'"
    )
}) as o
    where checked.status = 'loaded' and checked.pid = o.payment_id
"""
# Pending payments whose invoice arrived, typed as a payments file's rows are checked, then judged
# by the same rules: payment_before_issue (rules.py), then overpayment among the others; and those
# naming several invoices now all loaded (several_invoices).
BEFORE_ISSUE = payment_before_issue()
ARRIVED_PAYMENTS = f"""
    create or replace temp table arrived as
    select p.*, p.payment_date as paid_on, i.issue_date as invoice_issue,
        i.amount as invoice_amount,
        case when {BEFORE_ISSUE[0]} then {BEFORE_ISSUE[2]} end as before_issue
    from staging.pending_payments as p join staging.invoices as i using (invoice_id);
    create or replace temp table arrived_rejected as
    select a.*, coalesce(a.before_issue, o.message) as message,
        case when a.before_issue is not null then '{BEFORE_ISSUE[1]}' else 'overpayment' end
            as rule
    from arrived as a
    left join ({
    overpaid_payments(
        "select payment_id, invoice_id, payment_date, amount, invoice_amount from arrived "
        "where before_issue is null"
    )
}) as o using (payment_id)
    where a.before_issue is not null or o.message is not null;
    insert into arrived_rejected by name
    select p.*, '{SEVERAL[1]}' as rule, {SEVERAL[2]} as message
    from staging.pending_payments as p
    join ({_parts("payment_id", "staging.pending_payments")}) as s using (payment_id)
    where {SEVERAL[0]};
"""


def _reject_arrived_payments(con: duckdb.DuckDBPyConnection, load_id: int) -> int:
    """Pending payments whose invoice arrived and that break a payment rule: into `rejects`
    under the load and line that read them, out of staging.pending_payments. Returns how many."""
    run(con, ARRIVED_PAYMENTS)
    run(
        con,
        """
        insert into rejects (load_id, file_name, line, rule, message, row_text)
        select load_id, coalesce(file_name, ''), line, rule,
            message || ' (checked when it stopped waiting, load ' || $id || ')',
            concat_ws(',', payment_id, invoice_id, payment_date, amount)
        from arrived_rejected
        """,
        id=load_id,
    )
    run(
        con,
        "delete from staging.pending_payments "
        "where payment_id in (select payment_id from arrived_rejected)",
    )
    [(rejected,)] = run(con, "select count(*) from arrived_rejected")
    return rejected


# --------------------------------------------------------------------------- payments, promises


def upsert_payments(con: duckdb.DuckDBPyConnection, plan: Plan, load_id: int) -> dict[str, int]:
    """Payments whose invoice is known to staging.payments (after the overpayment rule), the
    others to staging.pending_payments. A changed payment replaces the one in staging."""
    run(con, REJECT_SEVERAL)
    run(con, REJECT_OVERPAID)
    counts = _compare(
        con,
        "payments",
        "s.invoice_id = c.invoice_id and s.payment_date = c.paid_on and s.amount = c.amt",
    )
    if counts["updated"]:  # (a replaced payment may have been on another invoice)
        delete_payments(con, "select payment_id from existing where not same")
    _write(con, plan, load_id, "payments", "pid, invoice_id, paid_on, amt", counts)
    counts["on_account"] = _on_account(con, load_id)
    return counts


def _on_account(con: duckdb.DuckDBPyConnection, load_id: int) -> int:
    """The file's payments on account (no invoice, a customer) to staging.payments_on_account;
    a payment_id the file applies to an invoice leaves it, one it leaves unapplied leaves
    staging.payments and pending_payments. Returns how many the file holds."""
    for table, statuses in (
        ("payments_on_account", "'loaded', 'pending', 'on_account'"),
        ("pending_payments", "'on_account'"),
    ):
        run(
            con,
            f"delete from staging.{table} where payment_id in "
            f"(select pid from checked where status in ({statuses}))",
        )
    delete_payments(con, "select pid from checked where status = 'on_account'")
    run(
        con,
        "insert into staging.payments_on_account "
        "select pid, customer_id, paid_on, amt, $id from checked where status = 'on_account'",
        id=load_id,
    )
    [(count,)] = run(con, "select count(*) from checked where status = 'on_account'")
    return count


def upsert_promises(con: duckdb.DuckDBPyConnection, plan: Plan, load_id: int) -> dict[str, int]:
    """Promises whose invoice is known go to staging.promises, the others wait in
    staging.pending_promises. A promise re-sent with another date or amount is a new version:
    the replaced one is kept in staging.promise_versions (a moved promise is a broken one)."""
    run(con, "alter table checked add column status varchar")
    run(
        con,
        "update checked set status = case when invoice_known then 'loaded' else 'pending' end "
        "where rule is null",
    )
    counts = _compare(
        con,
        "promises",
        "s.invoice_id = c.invoice_id and s.promised_on = c.made "
        "and s.promised_date = c.promised and s.amount is not distinct from c.amt",
    )
    if counts["updated"]:
        run(
            con,
            """
            insert into staging.promise_versions
            select s.promise_id, s.invoice_id, s.promised_on, s.promised_date, s.amount,
                s.load_id, $id
            from staging.promises as s
            join existing as e on e.promise_id = s.promise_id and not e.same
            """,
            id=load_id,
        )
        run(
            con,
            "delete from staging.promises where promise_id in "
            "(select promise_id from existing where not same)",
        )
    _write(con, plan, load_id, "promises", "pid, invoice_id, made, promised, amt", counts)
    return counts


def _compare(con: duckdb.DuckDBPyConnection, kind: str, same: str) -> dict[str, int]:
    """Temp table `existing`: the file's rows to load (status 'loaded') already in
    staging.<kind> (`s`), with whether they are the `same` as the checked row (`c`); the counts."""
    key = PENDING[kind][0]
    run(
        con,
        f"""
        create or replace temp table existing as
        select c.pid as {key}, {same} as same
        from checked as c join staging.{kind} as s on s.{key} = c.pid
        where c.status = 'loaded'
        """,
    )
    return _counts(con, "status = 'loaded'")


def _write(
    con: duckdb.DuckDBPyConnection,
    plan: Plan,
    load_id: int,
    kind: str,
    columns: str,
    counts: dict[str, int],
) -> None:
    """The new and changed rows to staging.<kind>; the rows whose invoice is not known yet to
    staging.pending_<kind> (replacing what waited under the same key), and what waited for a
    row now loaded removed."""
    key = PENDING[kind][0]
    changed = "status = 'loaded'" + (
        f" and pid not in (select {key} from existing where same)" if counts["unchanged"] else ""
    )
    run(
        con,
        f"insert into staging.{kind} select {columns}, $id from checked where {changed}",
        id=load_id,
    )
    run(
        con,
        f"delete from staging.pending_{kind} "
        f"where {key} in (select pid from checked where status = 'loaded')",
    )
    run(
        con,
        f"insert or replace into staging.pending_{kind} "
        f"select {columns}, $id, $f, line from checked where status = 'pending'",
        id=load_id,
        f=str(plan.source.path),
    )


UPSERT: dict[str, Callable[[duckdb.DuckDBPyConnection, Plan, int], dict[str, int]]] = {
    "customers": upsert_customers,
    "invoices": upsert_invoices,
    "payments": upsert_payments,
    "promises": upsert_promises,
    "actions": upsert_actions,
}
