"""Writing the collections ledger (an actions file's checked rows, temp table `checked` from
`rules_actions.py`) to staging, and what it feeds.

- An action whose customer and invoice are known goes to `staging.actions` (one row per
  action_id: a changed action replaces the one there, its earlier values stay in raw.actions);
  the others wait in `staging.pending_actions` and move when a load brings what they name
  (`match_pending_actions`, called by the customers' and invoices' upserts), checked again then.
- One source of truth: the ledger's promises and disputes feed the tables the rest of latepay
  reads. A `promise_to_pay` or `payment_plan` on an invoice is a row of `staging.promises`
  (promise_id = action_id); on the whole customer, one per invoice of the customer open at the
  action date (promise_id = action_id/invoice_id, amount null: the open amount). A promise whose
  action changed is a new version (the previous one in staging.promise_versions).
- `staging.disputes` merges the invoice export's dispute (`export_opened_date`) with the ledger's
  `dispute_opened` / `dispute_resolved` on the invoice (`refresh_disputes`): opened on the
  earliest opening, resolved on the latest resolution if no opening comes after it (else open
  again, from the first opening after it). Whatever order the actions arrive in, the result is
  the same.
"""

from __future__ import annotations

import duckdb

from pipelines.ingest.db import quote, run, touch
from pipelines.ingest.plan import Plan
from pipelines.ingest.rules_actions import PROMISE_ACTIONS, pending_check

COLUMNS = (
    "action_id, customer_id, invoice_id, action_date, action, channel, collector, "
    "promised_date, promised_amount, note, load_id, source_file, line"
)
DISPUTE_ACTIONS = ("dispute_opened", "dispute_resolved")


def _listed(values: tuple[str, ...]) -> str:
    return "[" + ", ".join(quote(v) for v in values) + "]"


def _run_each(con: duckdb.DuckDBPyConnection, sql: str, **params: object) -> None:
    """Run the statements of `sql` (separated by ';') one by one, each with the parameters it
    uses (DuckDB binds parameters of a single statement only)."""
    for statement in sql.split(";"):
        if statement.strip():
            run(con, statement, **params)


def upsert_actions(con: duckdb.DuckDBPyConnection, plan: Plan, load_id: int) -> dict[str, int]:
    """Actions whose customer and invoice are known to staging.actions (new and changed ones
    feed promises and disputes), the others to staging.pending_actions."""
    run(
        con,
        """
        create or replace temp table existing as
        select c.aid as action_id, s.invoice_id, s.action,
            s.customer_id = c.customer_id and s.invoice_id is not distinct from c.invoice_id
                and s.action_date = c.made and s.action = c.act
                and s.channel is not distinct from c.channel
                and s.collector is not distinct from c.collector
                and s.promised_date is not distinct from c.promised
                and s.promised_amount is not distinct from c.amt
                and s.note is not distinct from c.note as same
        from checked as c join staging.actions as s on s.action_id = c.aid
        where c.status = 'loaded'
        """,
    )
    [(rows, unchanged, updated)] = run(
        con,
        "select (select count(*) from checked where status = 'loaded'), "
        "count(*) filter (where same), count(*) filter (where not same) from existing",
    )
    run(
        con,
        "create or replace temp table previous as "
        "select action_id, invoice_id, action from existing where not same",
    )
    run(con, "delete from staging.actions where action_id in (select action_id from previous)")
    _run_each(
        con,
        f"""
        create or replace temp table fed as
        select aid as action_id, customer_id, invoice_id, made as action_date, act as action,
            channel, collector, promised as promised_date, amt as promised_amount, note,
            $id as load_id, $f as source_file, line
        from checked
        where status = 'loaded' and aid not in (select action_id from existing where same);
        insert into staging.actions ({COLUMNS}) select * from fed;
        delete from staging.pending_actions
        where action_id in (select aid from checked where status = 'loaded');
        insert or replace into staging.pending_actions ({COLUMNS})
        select aid, customer_id, invoice_id, made, act, channel, collector, promised, amt, note,
            $id, $f, line
        from checked where status = 'pending';
        """,
        id=load_id,
        f=str(plan.source.path),
    )
    feed_ledger(con, load_id)
    return {"new": rows - unchanged - updated, "unchanged": unchanged, "updated": updated}


def match_pending_actions(con: duckdb.DuckDBPyConnection, load_id: int) -> dict[str, int]:
    """Pending actions whose customer (and invoice) are now in staging: checked as a direct load
    checks them (invoice_of_another_customer: the reject keeps the load, file and line that read
    the row), the others moved to staging.actions, where they feed promises and disputes.
    Returns actions_matched and pending_rejected."""
    arrived = (
        "customer_id in (select customer_id from staging.customers) and (invoice_id is null "
        "or invoice_id in (select invoice_id from staging.invoices))"
    )
    [(waiting,)] = run(con, f"select count(*) from staging.pending_actions where {arrived}")
    if not waiting:
        return {}
    run(
        con,
        f"create or replace temp table arrived as select * from staging.pending_actions "
        f"where {arrived}",
    )
    run(con, pending_check())
    _reject_arrived(con, load_id)
    _run_each(
        con,
        f"""
        create or replace temp table previous as
        select action_id, invoice_id, action from staging.actions
        where action_id in (select action_id from arrived_checked where rule is null);
        delete from staging.actions where action_id in (select action_id from previous);
        create or replace temp table fed as
        select action_id, customer_id, invoice_id, action_date, action, channel, collector,
            promised_date, promised_amount, note, load_id, source_file, line
        from arrived_checked where rule is null;
        insert into staging.actions ({COLUMNS}) select * from fed;
        delete from staging.pending_actions where action_id in (select action_id from arrived);
        """,
    )
    feed_ledger(con, load_id)
    [(matched, rejected)] = run(
        con, "select count(*) filter (where rule is null), count(rule) from arrived_checked"
    )
    _run_each(con, "drop table arrived; drop table arrived_checked")
    return {"actions_matched": matched, "pending_rejected": rejected}


def _reject_arrived(con: duckdb.DuckDBPyConnection, load_id: int) -> None:
    """The arrived actions that fail their check, into `rejects` under the load that read them,
    with their fields as read (raw.actions)."""
    fields = (
        "action_id, customer_id, invoice_id, action_date, action, channel, collector, "
        "promised_date, promised_amount, note"
    )
    text = ", ".join(f"coalesce(r.{f.strip()}, '')" for f in fields.split(","))
    run(
        con,
        f"""
        insert into rejects (load_id, file_name, line, rule, message, row_text)
        select a.load_id, a.source_file, a.line, a.rule,
            a.message || ' (checked when it stopped waiting, load ' || $id || ')',
            any_value(concat_ws(',', {text}))
        from arrived_checked as a
        left join raw.actions as r
            on r.load_id = a.load_id and r.line = a.line
            and coalesce(r.action_id, a.action_id) = a.action_id
        where a.rule is not null
        group by all
        """,
        id=load_id,
    )


def feed_ledger(con: duckdb.DuckDBPyConnection, load_id: int) -> None:
    """Promises and disputes from temp table `fed` (the actions just written to staging.actions)
    and `previous` (the versions of them they replaced)."""
    feed_promises(con, load_id)
    scope = (
        f"select invoice_id from fed where list_contains({_listed(DISPUTE_ACTIONS)}, action) "
        f"union select invoice_id from previous "
        f"where list_contains({_listed(DISPUTE_ACTIONS)}, action)"
    )
    refresh_disputes(con, scope)
    _run_each(con, "drop table fed; drop table previous")


def _ledger_promises(con: duckdb.DuckDBPyConnection) -> None:
    """Temp table `ledger_promises`: the promises the `fed` actions make. On an invoice, one
    (promise_id = action_id); on the whole customer, one per invoice of the customer open at the
    action date, i.e. issued by then and not paid in full before it."""
    promises = _listed(PROMISE_ACTIONS)
    run(
        con,
        f"""
        create or replace temp table ledger_promises as
        with whole as (
            select f.action_id, f.action_date, f.promised_date, i.invoice_id, i.amount
            from fed as f
            join staging.invoices as i
                on i.customer_id = f.customer_id and i.issue_date <= f.action_date
            where f.invoice_id is null and list_contains({promises}, f.action) and i.amount > 0
        ),
        paid as (
            select w.action_id, w.invoice_id, sum(p.amount) as paid
            from whole as w
            join staging.payments as p
                on p.invoice_id = w.invoice_id and p.payment_date < w.action_date
            group by all
        )
        select action_id as promise_id, invoice_id, action_date as promised_on, promised_date,
            promised_amount as amount
        from fed where invoice_id is not null and list_contains({promises}, action)
        union all
        select w.action_id || '/' || w.invoice_id, w.invoice_id, w.action_date,
            w.promised_date, null::decimal(18, 2)
        from whole as w left join paid as p using (action_id, invoice_id)
        where coalesce(p.paid, 0) < w.amount
        """,
    )


def feed_promises(con: duckdb.DuckDBPyConnection, load_id: int) -> None:
    """The ledger's promises into staging.promises: new ones added, the same ones unchanged, a
    changed one (or one its changed action no longer makes) kept in staging.promise_versions."""
    _ledger_promises(con)
    _run_each(
        con,
        """
        create or replace temp table promise_change as
        select l.promise_id from ledger_promises as l
        join staging.promises as s using (promise_id)
        where s.invoice_id <> l.invoice_id or s.promised_on <> l.promised_on
            or s.promised_date <> l.promised_date or s.amount is distinct from l.amount
        union
        select s.promise_id from staging.promises as s
        join previous as p
            on s.promise_id = p.action_id or starts_with(s.promise_id, p.action_id || '/')
        where s.promise_id not in (select promise_id from ledger_promises);
        insert into staging.promise_versions
        select s.promise_id, s.invoice_id, s.promised_on, s.promised_date, s.amount,
            s.load_id, $id
        from staging.promises as s semi join promise_change using (promise_id);
        delete from staging.promises where promise_id in (select promise_id from promise_change);
        insert into staging.promises
        select *, $id from ledger_promises
        where promise_id not in (select promise_id from staging.promises);
        drop table promise_change; drop table ledger_promises;
        """,
        id=load_id,
    )


def refresh_disputes(con: duckdb.DuckDBPyConnection, scope: str) -> None:
    """Recompute staging.disputes for the invoices `scope` (a query of invoice_id) from the
    export's opening (export_opened_date) and every ledger dispute action on the invoice."""
    touch(con, f"select invoice_id from ({scope}) where invoice_id is not null")
    disputes = _listed(DISPUTE_ACTIONS)
    run(
        con,
        f"""
        create or replace temp table merged_disputes as
        with scope as (select distinct invoice_id from ({scope}) where invoice_id is not null),
        events as (
            select a.invoice_id, a.action_date, a.action from staging.actions as a
            semi join scope using (invoice_id)
            where list_contains({disputes}, a.action)
        ),
        resolved as (
            select invoice_id, max(action_date) as resolved_on from events
            where action = 'dispute_resolved' group by invoice_id
        ),
        openings as (
            select invoice_id, action_date as opened_on from events
            where action = 'dispute_opened'
            union all
            select d.invoice_id, d.export_opened_date from staging.disputes as d
            semi join scope using (invoice_id) where d.export_opened_date is not null
        ),
        merged as (
            select s.invoice_id, r.resolved_on, min(o.opened_on) as first_opened,
                min(o.opened_on) filter (where r.resolved_on is null
                    or o.opened_on > r.resolved_on) as open_again
            from scope as s
            left join openings as o using (invoice_id)
            left join resolved as r using (invoice_id)
            group by s.invoice_id, r.resolved_on
        )
        select invoice_id, coalesce(open_again, first_opened) as opened_date,
            case when open_again is null then resolved_on end as resolved_date
        from merged
        """,
    )
    _run_each(
        con,
        """
        delete from staging.disputes where invoice_id in
            (select invoice_id from merged_disputes where opened_date is null);
        insert into staging.disputes (invoice_id, opened_date, resolved_date)
        select invoice_id, opened_date, resolved_date from merged_disputes
        where opened_date is not null
        on conflict (invoice_id) do update
            set opened_date = excluded.opened_date, resolved_date = excluded.resolved_date;
        drop table merged_disputes;
        """,
    )


def refresh_invoice_disputes(con: duckdb.DuckDBPyConnection) -> None:
    """After an invoice export rewrote its invoices' disputes: the ledger's merged in again, for
    every invoice the ledger holds dispute actions on (few; the merge of the others gives what
    they hold already). Checked first: usually there are none."""
    on_invoices = (
        f"select invoice_id from staging.actions "
        f"where list_contains({_listed(DISPUTE_ACTIONS)}, action) and invoice_id is not null"
    )
    [(any_,)] = run(con, f"select count(*) > 0 from ({on_invoices})")
    if any_:
        refresh_disputes(con, on_invoices)
