"""Open-items exports: the complete list of the invoices open on a day (the aged trial balance),
which many ERPs give instead of payments.

`latepay ingest FILE --open-items --load-date D` (or `open_items = true` in the mapping's
[invoices] section, for the inbox) loads FILE as the export of day D. Its rows are invoice rows,
loaded as any invoices file (`upsert_invoices`: every rule, new invoices added, changed ones
versioned), with an optional `open_amount` column (rules `bad_amount` and `bad_open_amount` of
`rules.py`, applied here after the invoices' own). Then, against the previous open-items export (the latest one loaded;
`staging.open_item_exports` keeps which invoices each export listed):

* listed before, absent now: **settled by absence** on D, by a derived payment of its open
  amount (the invoice amount less every payment recorded for it), payment_id
  `<invoice_id>#closed-<D>`; not when its payments already cover it;
* listed now after it was settled by absence: **reopened**, that payment removed;
* listed with `open_amount`: the payments derived from the exports follow it. Lower than what
  the payments leave open: the difference was paid by D, payment `<invoice_id>#partial-<D>`
  (**partially paid**); higher: derived payments are reduced by the difference, latest first
  (**reversed**); payments loaded from a payments file are never changed;
* derived payments that a payments file made redundant (an invoice paid more than its amount,
  e.g. a payment dated before D loaded after its settlement by absence) are reduced, latest first
  (**trimmed**).

Each change is a row of `open_item_events` with its reason; `loads` keeps the counts. An export
dated before the latest open-items export loaded is refused (`stale_open_items`): exports are
loaded in date order; a second export of the same date replaces the first.

Dates: the export of D is taken to list the invoices open at the start of day D (issued before D,
not paid in full before D). An invoice paid in full on day s is listed by the exports up to s and
absent from those after: it is settled on the first export date after s (s + 1 for daily
exports), never before the payment really happened, so no feature sees it early.
"""

from __future__ import annotations

from datetime import date

import duckdb

from pipelines.ingest.db import delete_payments, run
from pipelines.ingest.plan import IngestError, Plan
from pipelines.ingest.rules import Sql, bad_amount, bad_open_amount
from pipelines.ingest.upsert import upsert_invoices

CLOSED = "#closed-"  # payment_id <invoice_id>#closed-<D>: settled by absence from the export of D
PARTIAL = "#partial-"  # payment_id <invoice_id>#partial-<D>: paid by D, from its open_amount
# Counts an open-items load adds to an invoices load (columns of `loads` of the same names).
COUNTS = ("settled_by_absence", "reopened", "partially_paid", "payments_reversed")
# Payments derived from the exports (alias p of staging.payments).
DERIVED = (
    f"(starts_with(p.payment_id, p.invoice_id || '{CLOSED}') "
    f"or starts_with(p.payment_id, p.invoice_id || '{PARTIAL}'))"
)


def mark_open_items(plans: list[Plan], load_date: date | None, every: bool) -> None:
    """The planned file that is an open-items export gets its date (`plan.open_items_date`): an
    invoices file when `every` (--open-items) or when its mapping section says open_items. One
    per ingest, and it needs the load date, which is its date. Another invoices file's
    open_amount is not read, and its format says so."""
    chosen = [
        p
        for p in plans
        if p.kind == "invoices"
        and not p.workbook
        and (every or (p.section is not None and p.section.open_items))
    ]
    if every and not chosen:
        raise IngestError(
            "rule open_items_kind: --open-items: none of the files holds invoices; an open-items "
            "export has the invoices' columns (and open_amount)"
        )
    if len(chosen) > 1:
        names = ", ".join(str(p.source.path) for p in chosen)
        raise IngestError(
            f"{names}: rule several_open_items: one open-items export per ingest (each is the "
            "complete list of the invoices open on its day)"
        )
    if chosen and load_date is None:
        raise IngestError(
            f"{chosen[0].source.path}: rule open_items_date: an open-items export needs its "
            "date (--load-date)"
        )
    for plan in chosen:
        plan.open_items_date = load_date
    for plan in plans:  # an open amount elsewhere is not read: said, never silently dropped
        if (
            plan.kind == "invoices"
            and plan.open_items_date is None
            and "open_amount" in plan.fields
        ):
            column = plan.source.columns[plan.fields["open_amount"]]
            plan.notes.append(
                f"{column!r} (open_amount) not read: only an open-items export's is "
                "(--open-items, or open_items = true in the mapping)"
            )


def upsert_open_items(con: duckdb.DuckDBPyConnection, plan: Plan, load_id: int) -> dict[str, int]:
    """An open-items export: its rows loaded as invoices, then what its list of open invoices
    says about payments (see the module's docstring); the counts of both."""
    day = plan.open_items_date
    assert day is not None
    previous = _refuse_stale(con, plan, day)
    _check_open_amounts(con, plan, load_id)
    counts = upsert_invoices(con, plan, load_id)
    params = {"id": load_id, "d": day}
    _list_export(con, params, previous)
    counts["reopened"] = _reopen(con, params)
    counts["partially_paid"], counts["payments_reversed"] = _follow_open_amounts(con, params)
    counts["settled_by_absence"] = _settle_absent(con, params)
    _trim(con, params)
    run(con, "update loads set open_items_date = $d where load_id = $id", d=day, id=load_id)
    for table in ("listed", "gone", "changes"):
        run(con, f"drop table if exists temp.{table}")
    return counts


def _refuse_stale(con: duckdb.DuckDBPyConnection, plan: Plan, day: date) -> date | None:
    """The date of the latest open-items export loaded; an export dated before it is refused."""
    [(latest,)] = run(
        con,
        "select max(open_items_date) from loads "
        "where open_items_date is not null and finished_at is not null",
    )
    if latest is not None and day < latest:
        raise IngestError(
            f"{plan.source.path}: rule stale_open_items: this open-items export is dated {day}, "
            f"before the latest one loaded ({latest}); load the exports in date order"
        )
    return latest


def _check_open_amounts(con: duckdb.DuckDBPyConnection, plan: Plan, load_id: int) -> None:
    """`checked` gains `open_amt`, the row's open amount (null without the column); a row whose
    open_amount is not a number (`bad_amount`), or is below 0 or above the invoice amount
    (`bad_open_amount`), is rejected, after the invoices' own rules."""
    run(con, "alter table checked add column open_amt decimal(18, 2)")
    if "open_amount" not in plan.fields:
        return
    s = Sql(plan, None)
    rules = [bad_amount(s, "open_amt", "open_amount", optional=True), bad_open_amount()]
    rule = " ".join(f"when {condition} then '{name}'" for condition, name, _ in rules)
    message = " ".join(f"when {condition} then {text}" for condition, _, text in rules)
    run(
        con,
        f"""
        update checked set open_amt = o.open_amt, rule = coalesce(checked.rule, o.rule),
            message = coalesce(checked.message, o.message)
        from (
            select line, open_amt, case {rule} end as rule, case {message} end as message
            from (
                select r.line, r.open_amount, {s.amount("open_amount")} as open_amt, c.amt
                from ({plan.raw_rows}) as r join checked as c using (line)
            )
        ) as o
        where checked.line = o.line
        """,
        id=load_id,
        f=str(plan.source.path),
    )


def _list_export(con: duckdb.DuckDBPyConnection, params: dict, previous: date | None) -> None:
    """Temp tables `listed` (the invoices this export lists: its rows whose invoice is in
    staging, rejected ones included, with the open amount of the row that passed) and `gone`
    (listed by the previous export, not by this one); the listing kept in
    staging.open_item_exports (replacing an earlier export of the same date)."""
    run(
        con,
        """
        create or replace temp table listed as
        select c.invoice_id, any_value(c.open_amt) filter (where c.rule is null) as open_amt,
            any_value(s.amount) as amount
        from checked as c join staging.invoices as s using (invoice_id)
        group by c.invoice_id
        """,
    )
    run(
        con,
        """
        create or replace temp table gone as
        select e.invoice_id, e.export_date as listed_on
        from staging.open_item_exports as e anti join listed using (invoice_id)
        where e.export_date = $previous
        """,
        previous=previous,
    )
    run(con, "delete from staging.open_item_exports where export_date = $d", d=params["d"])
    run(
        con,
        "insert into staging.open_item_exports select $d, invoice_id, open_amt, $id from listed",
        d=params["d"],
        id=params["id"],
    )


def _events(con: duckdb.DuckDBPyConnection, event: str, params: dict) -> int:
    """Temp table `changes` (invoice_id, amount, payment_id, reason) into open_item_events;
    how many invoices it is about."""
    run(
        con,
        "insert into open_item_events select $id, $d, invoice_id, $e, amount, payment_id, reason "
        "from changes",
        id=params["id"],
        d=params["d"],
        e=event,
    )
    [(invoices,)] = run(con, "select count(distinct invoice_id) from changes")
    return invoices


def _reopen(con: duckdb.DuckDBPyConnection, params: dict) -> int:
    """Listed invoices that were settled by absence: that payment removed."""
    run(
        con,
        f"""
        create or replace temp table changes as
        select p.invoice_id, p.amount, p.payment_id,
            'listed again in the open-items export of ' || $d || ' after it was settled by '
                || 'absence on ' || p.payment_date || ': payment ' || p.payment_id || ' of '
                || p.amount || ' removed' as reason
        from staging.payments as p semi join listed using (invoice_id)
        where starts_with(p.payment_id, p.invoice_id || '{CLOSED}')
        """,
        d=params["d"],
    )
    delete_payments(con, "select payment_id from changes")
    return _events(con, "reopened", params)


def _follow_open_amounts(con: duckdb.DuckDBPyConnection, params: dict) -> tuple[int, int]:
    """Listed invoices with an open amount: what it says was paid by D, against the payments
    recorded. (partially paid, reversed) invoices."""
    run(
        con,
        """
        create or replace temp table changes as
        with paid as (
            select invoice_id, sum(amount) as paid
            from staging.payments semi join listed using (invoice_id)
            group by invoice_id
        )
        select l.invoice_id, l.open_amt, l.amount - coalesce(p.paid, 0) as left_open
        from listed as l left join paid as p using (invoice_id)
        where l.open_amt is not null and l.amount > 0
            and l.open_amt <> l.amount - coalesce(p.paid, 0)
        """,
    )
    run(con, "create or replace temp table gaps as select * from changes")
    run(
        con,
        f"""
        create or replace temp table changes as
        select g.invoice_id, g.left_open - g.open_amt as amount,
            g.invoice_id || '{PARTIAL}' || $d as payment_id, coalesce(p.amount, 0) as earlier,
            'open amount ' || g.open_amt || ' in the open-items export of ' || $d || ', '
                || g.left_open || ' before: ' || (g.left_open - g.open_amt) || ' paid by then'
                as reason
        from gaps as g
        left join staging.payments as p on p.payment_id = g.invoice_id || '{PARTIAL}' || $d
        where g.open_amt < g.left_open
        """,
        d=params["d"],
    )
    delete_payments(con, "select payment_id from changes")
    run(
        con,
        "insert into staging.payments select payment_id, invoice_id, $d, amount + earlier, $id "
        "from changes",
        d=params["d"],
        id=params["id"],
    )
    paid = _events(con, "partially_paid", params)
    reversed_ = _reduce(
        con,
        params,
        "select invoice_id, open_amt - left_open as need, open_amt from gaps "
        "where open_amt > left_open",
        "'open amount ' || n.open_amt || ' in the open-items export of ' || $d || ', above the '"
        " || (n.open_amt - n.need) || ' its payments left open'",
    )
    run(con, "drop table temp.gaps")
    _events(con, "reversed", params)
    return paid, reversed_


def _reduce(con: duckdb.DuckDBPyConnection, params: dict, needs: str, why: str) -> int:
    """Reduce the payments derived from the exports of each invoice of `needs` (invoice_id,
    need, ...; alias n in `why`) by its need, latest first; temp table `changes` gets one row per
    invoice (the reduction, `why` and what could not be reduced). Returns the invoices reduced."""
    run(con, f"create or replace temp table needs as {needs}")  # before anything is reduced
    run(
        con,
        f"""
        create or replace temp table reduction as
        with n as (select * from needs),
        derived as (
            select p.payment_id, p.invoice_id, p.payment_date, p.amount, n.need,
                coalesce(sum(p.amount) over (
                    partition by p.invoice_id order by p.payment_date desc, p.payment_id desc
                    rows between unbounded preceding and 1 preceding), 0) as later
            from staging.payments as p join n using (invoice_id)
            where {DERIVED}
        )
        select *, least(amount, greatest(need - later, 0)) as cut from derived
        """,
    )
    delete_payments(con, "select payment_id from reduction where cut > 0")
    run(
        con,
        "insert into staging.payments select payment_id, invoice_id, payment_date, "
        "amount - cut, $id from reduction where cut > 0 and amount > cut",
        id=params["id"],
    )
    run(
        con,
        f"""
        create or replace temp table changes as
        with n as (select * from needs),
        r as (
            select invoice_id, sum(cut) as cut,
                string_agg(payment_id, ', ' order by payment_id) filter (where cut > 0) as ids
            from reduction group by invoice_id
        )
        select n.invoice_id, coalesce(r.cut, 0) as amount, r.ids as payment_id,
            {why} || ': derived payments reduced by ' || coalesce(r.cut, 0)
                || case when n.need > coalesce(r.cut, 0) then '; ' || (n.need - coalesce(r.cut, 0))
                    || ' not reversed: payments from a payments file are never changed'
                    else '' end as reason
        from n left join r using (invoice_id)
        """,
        d=params["d"],
    )
    run(con, "drop table temp.reduction")
    run(con, "drop table temp.needs")
    [(reduced,)] = run(con, "select count(*) from changes where amount > 0")
    return reduced


def _settle_absent(con: duckdb.DuckDBPyConnection, params: dict) -> int:
    """Invoices the previous export listed and this one does not: settled on D for what their
    payments leave open, unless they already cover it."""
    run(
        con,
        f"""
        create or replace temp table changes as
        with paid as (
            select invoice_id, sum(amount) as paid
            from staging.payments semi join gone using (invoice_id)
            group by invoice_id
        )
        select g.invoice_id, s.amount - coalesce(p.paid, 0) as amount,
            g.invoice_id || '{CLOSED}' || $d as payment_id,
            'listed open in the open-items export of ' || g.listed_on || ', absent from the one '
                || 'of ' || $d || ': settled on ' || $d || ' for its open amount' as reason
        from gone as g
        join staging.invoices as s using (invoice_id)
        left join paid as p using (invoice_id)
        where s.amount > 0 and s.amount > coalesce(p.paid, 0)
        """,
        d=params["d"],
    )
    run(
        con,
        "insert into staging.payments select payment_id, invoice_id, $d, amount, $id from changes",
        d=params["d"],
        id=params["id"],
    )
    return _events(con, "settled_by_absence", params)


def _trim(con: duckdb.DuckDBPyConnection, params: dict) -> int:
    """Invoices whose payments exceed their amount while some of them were derived from the
    exports (a payments file paid them too): the derived ones reduced by the excess."""
    needs = f"""
        select p.invoice_id, sum(p.amount) - any_value(s.amount) as need
        from staging.payments as p join staging.invoices as s using (invoice_id)
        where p.invoice_id in (select p.invoice_id from staging.payments as p where {DERIVED})
        group by p.invoice_id
        having sum(p.amount) > any_value(s.amount) and any_value(s.amount) > 0
    """
    [(excess,)] = run(con, f"select count(*) from ({needs})")
    if not excess:
        return 0
    why = "'payments from a payments file cover it'"
    trimmed = _reduce(con, params, needs, why)
    _events(con, "trimmed", params)
    return trimmed
