-- Grain: one row per (customer_id, event_date): the customer_facts of a day, with running totals
-- up to and including event_date. A row describes facts dated event_date, so it is known at any
-- as_of > event_date. The path for many dates (training sets): the history is summed once, and
-- customer_totals_running reads it at each date with ASOF joins.
with

settled as (
    select
        customer_id,
        fact_date,
        fact_seq,
        days_late,
        days_after_due > $grace_days as is_late
    from customer_facts
    where settled_amount is not null
),

settled_recent as (
    -- after each settlement, in settlement order: the last five / ten settled invoices and all
    select
        customer_id,
        fact_date,
        fact_seq,
        avg(days_late) over last5 as avg_days_late_last5,
        median(days_late) over last10 as median_days_late_last10,
        avg(is_late::int) over last10 as share_paid_late_last10,
        median(days_late) over history as median_days_late
    from settled
    window
        last5 as (
            partition by customer_id order by fact_seq
            rows between 4 preceding and current row
        ),
        last10 as (
            partition by customer_id order by fact_seq
            rows between 9 preceding and current row
        ),
        history as (
            partition by customer_id order by fact_seq
            rows between unbounded preceding and current row
        )
),

issued_running as (
    select
        customer_id,
        fact_date,
        fact_seq,
        median(issued_amount::double) over (
            partition by customer_id order by fact_seq
            rows between unbounded preceding and current row
        ) as median_invoice_amount
    from customer_facts
    where issued_amount is not null
),

state_daily as (
    -- the state after the day's last settlement / invoice (highest fact_seq of the day, as
    -- ordered above)
    select
        customer_id,
        fact_date as event_date,
        arg_max(avg_days_late_last5, fact_seq) as avg_days_late_last5,
        arg_max(median_days_late_last10, fact_seq) as median_days_late_last10,
        arg_max(share_paid_late_last10, fact_seq) as share_paid_late_last10,
        arg_max(median_days_late, fact_seq) as median_days_late,
        null::double as median_invoice_amount
    from settled_recent
    group by all
    union all by name
    select
        customer_id,
        fact_date as event_date,
        arg_max(median_invoice_amount, fact_seq) as median_invoice_amount
    from issued_running
    group by all
),

facts_daily as (
    select
        customer_id,
        fact_date as event_date,
        count(issued_amount) as issued_n,
        sum(issued_amount) as issued_amount,
        sum(credit_notes_n) as credit_notes_n,
        count(settled_amount) as settled_n,
        count(*) filter (where days_after_due > $grace_days) as late_n,
        sum(settled_amount) as settled_amount,
        sum(days_late) as days_late_sum,
        sum(days_late * days_late) as days_late_sq_sum,
        sum(settled_amount * days_late) as amount_days_late_sum,
        sum(partial_n) as partial_n,
        max(days_late) as days_late_max,
        count(days_after_due) filter (where days_after_due <= 0) as on_time_n,
        -sum(days_after_due) filter (where days_after_due <= 0) as days_early_sum,
        sum(month_end_n) as month_end_n,
        sum(due_n) as due_n,
        sum(late_by_due_n) as late_by_due_n,
        -- times the day number (see customer_totals_running: recency weights)
        sum(due_n * (fact_date - date '1970-01-01')) as due_day,
        sum(late_by_due_n * (fact_date - date '1970-01-01')) as late_by_due_day,
        sum(disputes_n) as disputes_n,
        count(payments_n) as payments_n,
        sum(balance_delta) as balance_delta,
        -- times the day number: sum(delta * (x - day)) = x * sum(delta) - sum(delta * day)
        sum(balance_delta * (fact_date - date '1970-01-01')) as balance_delta_day
    from customer_facts
    group by customer_id, fact_date
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
        sum(on_time_n) as on_time_n,
        sum(days_early_sum) as days_early_sum,
        sum(month_end_n) as month_end_n,
        sum(due_n) as due_n,
        sum(late_by_due_n) as late_by_due_n,
        sum(due_day) as due_day,
        sum(late_by_due_day) as late_by_due_day,
        sum(disputes_n) as disputes_n,
        sum(payments_n) as payments_n,
        sum(balance_delta) as balance_delta,
        sum(balance_delta_day) as balance_delta_day,
        max(avg_days_late_last5) as avg_days_late_last5,
        max(median_days_late_last10) as median_days_late_last10,
        max(share_paid_late_last10) as share_paid_late_last10,
        max(median_days_late) as median_days_late,
        max(median_invoice_amount) as median_invoice_amount
    from (
        select * from facts_daily
        union all by name select * from state_daily
    )
    group by customer_id, event_date
),

final as (
    -- narrow types: these rows are many (a row per customer and active day); the sums are exact
    select
        customer_id,
        event_date,
        (sum(coalesce(issued_n, 0)) over w)::bigint as cum_issued_n,
        (sum(coalesce(issued_amount, 0)) over w)::decimal(18, 2) as cum_issued_amount,
        (sum(coalesce(credit_notes_n, 0)) over w)::bigint as cum_credit_notes_n,
        (sum(coalesce(settled_n, 0)) over w)::bigint as cum_settled_n,
        (sum(coalesce(late_n, 0)) over w)::bigint as cum_late_n,
        (sum(coalesce(settled_amount, 0)) over w)::decimal(18, 2) as cum_settled_amount,
        (sum(coalesce(days_late_sum, 0)) over w)::bigint as cum_days_late_sum,
        (sum(coalesce(days_late_sq_sum, 0)) over w)::bigint as cum_days_late_sq_sum,
        (sum(coalesce(amount_days_late_sum, 0)) over w)::decimal(18, 2) as cum_amount_days_late_sum,
        (sum(coalesce(partial_n, 0)) over w)::bigint as cum_partial_n,
        (sum(coalesce(on_time_n, 0)) over w)::bigint as cum_on_time_n,
        (sum(coalesce(days_early_sum, 0)) over w)::bigint as cum_days_early_sum,
        (sum(coalesce(month_end_n, 0)) over w)::bigint as cum_month_end_n,
        (sum(coalesce(due_n, 0)) over w)::bigint as cum_due_n,
        (sum(coalesce(late_by_due_n, 0)) over w)::bigint as cum_late_by_due_n,
        (sum(coalesce(due_day, 0)) over w)::bigint as cum_due_day,
        (sum(coalesce(late_by_due_day, 0)) over w)::bigint as cum_late_by_due_day,
        (sum(coalesce(disputes_n, 0)) over w)::bigint as cum_disputes_n,
        (sum(coalesce(balance_delta, 0)) over w)::decimal(18, 2) as cum_balance_delta,
        (sum(coalesce(balance_delta_day, 0)) over w)::decimal(38, 2) as cum_balance_delta_day,
        max(days_late_max) over w as max_days_late,
        last_value(median_days_late ignore nulls) over w as median_days_late,
        last_value(avg_days_late_last5 ignore nulls) over w as avg_days_late_last5,
        last_value(median_days_late_last10 ignore nulls) over w as median_days_late_last10,
        last_value(share_paid_late_last10 ignore nulls) over w as share_paid_late_last10,
        last_value(median_invoice_amount ignore nulls) over w as median_invoice_amount,
        min(event_date) filter (where issued_n > 0) over w as first_issue_date,
        max(event_date) filter (where payments_n > 0) over w as last_payment_date
    from daily
    window w as (
        partition by customer_id order by event_date
        rows between unbounded preceding and current row
    )
)

select * from final
