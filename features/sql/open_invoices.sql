-- Grain: one row per (invoice_id, as_of), for every invoice open at as_of.
-- Input: as_of_dates(as_of). Point in time: an invoice is visible if issued before as_of; it is
-- open if it was not settled before as_of; only payments dated before as_of count as paid.
-- Credit notes are applied when issued and are never open. $sample_one_in > 1 keeps only the
-- customers whose id hashes to 0 modulo it (training sets of very large books; scoring uses 1).
with

as_of_dates as (
    select distinct as_of::date as as_of from as_of_dates
),

invoices as (
    select invoice_id, customer_id, issue_date, due_date, amount
    from staging.invoices
    where amount > 0 and hash(customer_id) % $sample_one_in::ubigint = 0
),

settlements as (
    -- only invoices still open at the earliest as_of can be open at any: a small join
    select invoice_id, settled_date
    from staging.invoice_settlements
    where settled_date is null or settled_date >= (select min(as_of) from as_of_dates)
),

candidates as materialized (
    -- joined before the dates, so that the big invoices table meets the small settlements set
    -- (materialised: the planner would otherwise pair every invoice with every date first)
    select i.*, s.settled_date
    from invoices as i
    join settlements as s using (invoice_id)
),

open_at as (
    select
        c.invoice_id,
        c.customer_id,
        d.as_of,
        c.issue_date,
        c.due_date,
        c.amount
    from candidates as c
    join as_of_dates as d
        on c.issue_date < d.as_of
        and (c.settled_date is null or c.settled_date >= d.as_of)
),

paid_before as (
    select o.invoice_id, o.as_of, sum(p.amount) as paid_before_as_of
    from open_at as o
    join staging.payments as p
        on p.invoice_id = o.invoice_id
        and p.payment_date < o.as_of
    group by o.invoice_id, o.as_of
),

disputes as (
    select invoice_id, opened_date from staging.disputes
),

final as (
    select
        o.*,
        coalesce(pb.paid_before_as_of, 0) as paid_before_as_of,
        o.amount - coalesce(pb.paid_before_as_of, 0) as open_amount,
        coalesce(dp.opened_date < o.as_of, false) as is_disputed
    from open_at as o
    left join paid_before as pb using (invoice_id, as_of)
    left join disputes as dp using (invoice_id)
)

select * from final
