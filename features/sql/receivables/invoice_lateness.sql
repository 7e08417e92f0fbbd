-- Grain: one row per invoice (credit notes left out) issued before $as_of whose due date + $grace
-- is before $as_of: how it was paid, as known at $as_of (see features/receivables.py).
with

invoices as (
    select invoice_id, customer_id, issue_date, due_date, amount::double as amount
    from staging.invoices
    where amount > 0 and issue_date < $as_of and due_date + $grace::integer < $as_of
),

settled as (
    select invoice_id, settled_date
    from staging.invoice_settlements
    where settled_date < $as_of
),

final as (
    select
        i.invoice_id,
        i.customer_id,
        c.segment,
        c.country,
        i.amount,
        i.issue_date,
        i.due_date,
        i.due_date - i.issue_date as terms_days,
        coalesce(d.opened_date < $as_of, false) as disputed,
        s.settled_date is not null as settled,
        s.settled_date,
        coalesce(s.settled_date, $as_of::date) - i.due_date as days_late
    from invoices as i
    left join settled as s using (invoice_id)
    left join staging.disputes as d using (invoice_id)
    left join staging.customers as c using (customer_id)
)

select * from final order by invoice_id
