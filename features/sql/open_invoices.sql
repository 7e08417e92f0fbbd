-- Grain: one row per (invoice_id, as_of), for every invoice open at as_of.
-- Input: as_of_dates(as_of). Point in time: an invoice is visible if issued before as_of; it is
-- open if it was not settled before as_of; only payments dated before as_of count as paid.
-- Credit notes are applied when issued and are never open. $sample_one_in > 1 keeps only the
-- customers whose id hashes to 0 modulo it (training sets of very large books; scoring uses 1).
-- Read from staging.invoice_settlements alone (it carries the invoice's own columns): the
-- payments table is read only for invoices paid in part before as_of and in part after.
with

as_of_dates as (
    select distinct as_of::date as as_of from as_of_dates
),

candidates as (
    -- only invoices still open at the earliest as_of can be open at any
    select
        invoice_id,
        customer_id,
        issue_date,
        due_date,
        amount,
        settled_date,
        paid_amount,
        first_payment_date,
        last_payment_date,
        dispute_opened_date,
        dispute_resolved_date
    from staging.invoice_settlements
    where amount > 0
        and (settled_date is null or settled_date >= (select min(as_of) from as_of_dates))
        and ($sample_one_in = 1 or hash(customer_id) % $sample_one_in::ubigint = 0)
),

open_at as (
    select c.*, d.as_of
    from candidates as c
    join as_of_dates as d
        on c.issue_date < d.as_of
        and (c.settled_date is null or c.settled_date >= d.as_of)
),

paid_in_part as (
    -- paid before as_of by the invoices with payments both before and on or after as_of (every
    -- other invoice has all its payments before as_of, or none)
    select o.invoice_id, o.as_of, sum(p.amount) as paid_before_as_of
    from open_at as o
    join staging.payments as p
        on p.invoice_id = o.invoice_id
        and p.payment_date < o.as_of
    where o.first_payment_date < o.as_of and o.last_payment_date >= o.as_of
    group by o.invoice_id, o.as_of
),

paid as (
    select
        o.*,
        case
            when o.last_payment_date < o.as_of then o.paid_amount
            when o.first_payment_date < o.as_of then pp.paid_before_as_of
            else 0
        end as paid_before_as_of
    from open_at as o
    left join paid_in_part as pp using (invoice_id, as_of)
),

final as (
    select
        o.invoice_id,
        o.customer_id,
        o.as_of,
        o.issue_date,
        o.due_date,
        o.amount,
        o.paid_before_as_of,
        o.amount - o.paid_before_as_of as open_amount,
        coalesce(
            o.dispute_opened_date < o.as_of
            and (o.dispute_resolved_date is null or o.dispute_resolved_date >= o.as_of),
            false
        ) as is_disputed
    from paid as o
)

select * from final
