-- Grain: one row per (customer_id, event_date): what happened to a customer on a day (invoices
-- issued, invoices settled, disputes opened, payments received), with running totals up to and
-- including event_date. A row describes facts dated event_date, so it is known at any
-- as_of > event_date. Lateness history is dated by *settlement*, never by due date.
with

invoices as (
    select invoice_id, customer_id, issue_date, due_date, amount::double as amount
    from staging.invoices
),

settled as (
    select
        i.customer_id,
        i.invoice_id,
        s.settled_date,
        i.amount,
        (s.settled_date - i.due_date) > $grace_days as is_late,
        greatest(s.settled_date - i.due_date, 0) as days_late,
        -- payments up to the settlement only: s.n_payments also counts later (over-)payments,
        -- facts dated after settled_date that must not change the history known before them
        (
            select count(*) from staging.payments as p
            where p.invoice_id = i.invoice_id and p.payment_date <= s.settled_date
        ) > 1 as is_partial
    from invoices as i
    join staging.invoice_settlements as s using (invoice_id)
    where i.amount > 0 and s.settled_date is not null
),

settled_recent as (
    -- the customer's last five / ten settled invoices, in settlement order
    select
        customer_id,
        settled_date,
        invoice_id,
        avg(days_late) over last5 as avg_days_late_last5,
        median(days_late) over last10 as median_days_late_last10,
        avg(is_late::int) over last10 as share_paid_late_last10
    from settled
    window
        last5 as (
            partition by customer_id order by settled_date, invoice_id
            rows between 4 preceding and current row
        ),
        last10 as (
            partition by customer_id order by settled_date, invoice_id
            rows between 9 preceding and current row
        )
),

issued_daily as (
    select
        customer_id,
        issue_date as event_date,
        count(*) filter (where amount > 0) as issued_n,
        coalesce(sum(amount) filter (where amount > 0), 0) as issued_amount,
        count(*) filter (where amount < 0) as credit_notes_n
    from invoices
    group by all
),

settled_daily as (
    select
        customer_id,
        settled_date as event_date,
        count(*) as settled_n,
        count(*) filter (where is_late) as late_n,
        sum(amount) as settled_amount,
        sum(days_late) as days_late_sum,
        sum(days_late * days_late) as days_late_sq_sum,
        sum(amount * days_late) as amount_days_late_sum,
        count(*) filter (where is_partial) as partial_n,
        max(days_late) as days_late_max
    from settled
    group by all
),

recent_daily as (
    -- the state after the day's last settlement (highest invoice_id of the day, as ordered above)
    select
        customer_id,
        settled_date as event_date,
        arg_max(avg_days_late_last5, invoice_id) as avg_days_late_last5,
        arg_max(median_days_late_last10, invoice_id) as median_days_late_last10,
        arg_max(share_paid_late_last10, invoice_id) as share_paid_late_last10
    from settled_recent
    group by all
),

disputes_daily as (
    select i.customer_id, d.opened_date as event_date, count(*) as disputes_n
    from staging.disputes as d
    join invoices as i using (invoice_id)
    group by all
),

payments_daily as (
    select i.customer_id, p.payment_date as event_date, count(*) as payments_n
    from staging.payments as p
    join invoices as i using (invoice_id)
    group by all
),

daily as (
    select
        customer_id,
        event_date,
        sum(issued_n) as issued_n,
        sum(issued_amount) as issued_amount,
        sum(credit_notes_n) as credit_notes_n,
        sum(settled_n) as settled_n,
        sum(late_n) as late_n,
        sum(settled_amount) as settled_amount,
        sum(days_late_sum) as days_late_sum,
        sum(days_late_sq_sum) as days_late_sq_sum,
        sum(amount_days_late_sum) as amount_days_late_sum,
        sum(partial_n) as partial_n,
        max(days_late_max) as days_late_max,
        max(avg_days_late_last5) as avg_days_late_last5,
        max(median_days_late_last10) as median_days_late_last10,
        max(share_paid_late_last10) as share_paid_late_last10,
        sum(disputes_n) as disputes_n,
        sum(payments_n) as payments_n
    from (
        select * from issued_daily
        union all by name select * from settled_daily
        union all by name select * from recent_daily
        union all by name select * from disputes_daily
        union all by name select * from payments_daily
    )
    group by customer_id, event_date
),

final as (
    select
        customer_id,
        event_date,
        sum(coalesce(issued_n, 0)) over w as cum_issued_n,
        sum(coalesce(issued_amount, 0)) over w as cum_issued_amount,
        sum(coalesce(credit_notes_n, 0)) over w as cum_credit_notes_n,
        sum(coalesce(settled_n, 0)) over w as cum_settled_n,
        sum(coalesce(late_n, 0)) over w as cum_late_n,
        sum(coalesce(settled_amount, 0)) over w as cum_settled_amount,
        sum(coalesce(days_late_sum, 0)) over w as cum_days_late_sum,
        sum(coalesce(days_late_sq_sum, 0)) over w as cum_days_late_sq_sum,
        sum(coalesce(amount_days_late_sum, 0)) over w as cum_amount_days_late_sum,
        sum(coalesce(partial_n, 0)) over w as cum_partial_n,
        sum(coalesce(disputes_n, 0)) over w as cum_disputes_n,
        max(days_late_max) over w as max_days_late,
        last_value(avg_days_late_last5 ignore nulls) over w as avg_days_late_last5,
        last_value(median_days_late_last10 ignore nulls) over w as median_days_late_last10,
        last_value(share_paid_late_last10 ignore nulls) over w as share_paid_late_last10,
        min(event_date) filter (where issued_n > 0) over w as first_issue_date,
        max(event_date) filter (where payments_n > 0) over w as last_payment_date
    from daily
    window w as (
        partition by customer_id order by event_date
        rows between unbounded preceding and current row
    )
)

select * from final
