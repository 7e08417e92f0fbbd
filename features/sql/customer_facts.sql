-- Grain: one row per dated fact about a customer: an invoice or credit note issued, an invoice
-- falling due, an invoice settled, a payment received, a dispute opened. fact_date is
-- the day the fact happened: it is known at any as_of > fact_date. Lateness history is dated by
-- *settlement*, never by due date. Each kind of fact fills its own measure columns (null
-- elsewhere).
-- Only the customers of open_invoices (features are made for them alone: the customer sample of
-- a large training set). Facts of any date: readers keep those dated before each as_of. Read by
-- customer_events (the path for many dates); customer_totals_direct (few dates) reads the same
-- invoices one row each, and the tests hold the two paths equal. Amounts stay decimal so that
-- sums are exact in any order of summation: the two paths add the same facts in different orders.
-- An invoice falls due: a fact dated due_date + $grace_days (the last day it could be paid on time)
-- saying whether it was paid by then; known the next day, whatever happens to it later.
-- Open invoices' amount: balance_delta changes the total amount of the customer's open invoices
-- from the day after fact_date on (an invoice adds its amount when issued and removes it when
-- settled; credit notes are never open; partial payments are not subtracted).
-- fact_seq orders a customer's invoices (issued facts) and settlements (settled facts): by date,
-- (settlements: then by days after due), then by a fixed hash of the invoice id (an integer
-- compares much faster than (date, text)); facts tied up to the hash carry the same values.
-- Single-use CTEs are not materialised (big tables stream through the joins).
with

customers as (
    select distinct customer_id from open_invoices
),

invoices as not materialized (
    -- staging.invoice_settlements carries the invoice's own columns beside its settlement
    select *
    from staging.invoice_settlements
    where customer_id in (select customer_id from customers)
),

issued_facts as (
    select
        customer_id,
        issue_date as fact_date,
        (issue_date - date '1970-01-01')::bigint * 1099511627776 + (hash(invoice_id) >> 24)::bigint
            as fact_seq,
        case when amount > 0 then amount end as issued_amount,
        (amount < 0)::int as credit_notes_n,
        case when amount > 0 then amount end as balance_delta
    from invoices
),

settled_facts as (
    select
        i.customer_id,
        i.settled_date as fact_date,
        -- same-day settlements in order of days after due, so the last-N features do not
        -- depend on invoice ids (the hash only separates settlements equal in both)
        (i.settled_date - date '1970-01-01')::bigint * 1099511627776
            + (i.settled_date - i.due_date + 32768)::bigint * 16777216
            + (hash(i.invoice_id) >> 40)::bigint as fact_seq,
        i.amount as settled_amount,
        i.settled_date - i.due_date as days_after_due,
        greatest(i.settled_date - i.due_date, 0) as days_late,
        -- paid in several payments up to the settlement (later over-payments are facts dated
        -- after settled_date, which must not change the history known before them)
        (i.payments_to_settle > 1)::int as partial_n,
        (i.settled_date = last_day(i.settled_date))::int as month_end_n,
        -i.amount as balance_delta
    from invoices as i
    where i.amount > 0 and i.settled_date is not null
),

due_facts as (
    select
        customer_id,
        due_date + $grace_days::integer as fact_date,
        1 as due_n,
        coalesce(settled_date > due_date + $grace_days::integer, true)::int as late_by_due_n
    from invoices
    where amount > 0
),

payment_facts as (
    -- a fact on each day the customer paid (only their dates are read: a day may repeat): the
    -- first and last payment of each invoice, and every payment of those paid three times or
    -- more (from staging.payments, for the ones in between)
    select customer_id, first_payment_date as fact_date, 1 as payments_n
    from invoices
    where n_payments >= 1
    union all
    select customer_id, last_payment_date as fact_date, 1 as payments_n
    from invoices
    where n_payments >= 2
    union all
    select i.customer_id, p.payment_date as fact_date, 1 as payments_n
    from staging.payments as p
    join (select invoice_id, customer_id from invoices where n_payments >= 3) as i using (invoice_id)
),

dispute_facts as (
    select customer_id, dispute_opened_date as fact_date, 1 as disputes_n
    from invoices
    where dispute_opened_date is not null
),

final as (
    select * from issued_facts
    union all by name select * from settled_facts
    union all by name select * from due_facts
    union all by name select * from payment_facts
    union all by name select * from dispute_facts
)

select * from final
