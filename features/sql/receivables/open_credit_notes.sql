-- Grain: one row per credit note (amount < 0) issued before $as_of with credit left: what its
-- customer can still use of it (open_credit > 0). The rule is in features/receivables.py
-- (open_credit_notes): the latest open-items export before $as_of decides for the credit notes
-- issued before its date; one no export has seen counts in full from the customer's oldest
-- invoice open at $as_of, and for nothing before.
with latest as (
    select max(export_date) as export_date from staging.open_item_exports
    where export_date < $as_of
),
oldest_open as (
    -- each customer's oldest invoice open at as_of (open_invoices.sql's rule)
    select customer_id, min(issue_date) as issue_date
    from staging.invoice_settlements
    where amount > 0 and issue_date < $as_of
        and (settled_date is null or settled_date >= $as_of)
    group by customer_id
),
credit_notes as (
    select c.invoice_id, c.customer_id, c.currency, c.issue_date, c.amount,
        l.export_date is null or c.issue_date >= l.export_date as unseen,
        c.issue_date >= o.issue_date as since_oldest_open,
        e.invoice_id is not null as listed, e.open_amount
    from staging.invoices as c
    cross join latest as l
    left join oldest_open as o on o.customer_id = c.customer_id
    left join staging.open_item_exports as e
        on e.invoice_id = c.invoice_id and e.export_date = l.export_date
    where c.amount < 0 and c.issue_date < $as_of
),
final as (
    select invoice_id, customer_id, currency, issue_date, amount::double as amount,
        case
            when unseen and coalesce(since_oldest_open, false) then -amount
            when unseen then 0
            when listed then least(abs(coalesce(open_amount, amount)), -amount)
            else 0
        end::double as open_credit
    from credit_notes
)
select * from final where open_credit > 0
order by customer_id, issue_date, invoice_id
