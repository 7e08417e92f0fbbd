-- Grain: one row per (customer_id, as_of) present in open_invoices.
-- The customer's totals from facts dated before as_of, aggregated directly: the customer_facts
-- dated before as_of, grouped by (customer, as_of), one kind of fact at a time (each kind is a
-- branch of customer_facts, so a filter on its measure reads that branch alone). The path for
-- one or a few dates (nightly scoring): each date reads the history once, with no per-day
-- running state. customer_totals_running gives the same columns and values, to the bit, for many
-- dates (training).
with

customer_dates as (
    select distinct customer_id, as_of from open_invoices
),

dates as (
    select distinct as_of::date as as_of from as_of_dates
),

facts as not materialized (
    -- customer_facts holds only the customers of open_invoices already: a join with the few
    -- dates (not with customer_dates) is enough, and far cheaper; final keeps customer_dates
    select d.as_of, f.*
    from customer_facts as f
    join dates as d on f.fact_date < d.as_of
),

-- days t in [as_of - 364, as_of] from the day after the fact on, times balance_delta: summed
-- over facts, this is the sum of the daily amounts of open invoices over those days
balance as not materialized (
    select *, balance_delta * (as_of - greatest(fact_date, as_of - 365)) as balance_days
    from facts
),

settled as (
    select
        customer_id,
        as_of,
        count(*) as settled_n,
        count(*) filter (where days_after_due > $grace_days) as late_n,
        sum(settled_amount) as settled_amount,
        sum(days_late) as days_late_sum,
        sum(days_late * days_late) as days_late_sq_sum,
        sum(settled_amount * days_late) as amount_days_late_sum,
        sum(partial_n) as partial_n,
        max(days_late) as max_days_late,
        median(days_late) as median_days_late,
        count(*) filter (where fact_date >= as_of - 365) as settled_n_365d,
        count(*) filter (where days_after_due > $grace_days and fact_date >= as_of - 365)
            as late_n_365d,
        sum(days_late) filter (where fact_date >= as_of - 365) as days_late_sum_365d,
        count(*) filter (where fact_date >= as_of - 90) as settled_n_90d,
        count(*) filter (where days_after_due > $grace_days and fact_date >= as_of - 90)
            as late_n_90d,
        sum(days_late) filter (where fact_date >= as_of - 90) as days_late_sum_90d,
        -- the last ten settlements, latest first (by fact_seq), as 2 * days_late + is_late: one
        -- top-10 per group instead of two (the costliest aggregate here)
        arg_max(2 * days_late + (days_after_due > $grace_days)::int, fact_seq, 10) as last10,
        sum(balance_days) as balance_days
    from balance
    where settled_amount is not null
    group by customer_id, as_of
),

issued as (
    select
        customer_id,
        as_of,
        count(issued_amount) as issued_n,
        sum(issued_amount) as issued_amount,
        median(issued_amount::double) as median_invoice_amount,
        count(issued_amount) filter (where fact_date >= as_of - 365) as issued_n_365d,
        sum(issued_amount) filter (where fact_date >= as_of - 365) as issued_amount_365d,
        sum(credit_notes_n) filter (where fact_date >= as_of - 365) as credit_notes_n_365d,
        min(fact_date) filter (where issued_amount is not null) as first_issue_date,
        sum(balance_days) as balance_days
    from balance
    where credit_notes_n is not null
    group by customer_id, as_of
),

payments as (
    select
        customer_id,
        as_of,
        max(fact_date) as last_payment_date
    from facts
    where payments_n is not null
    group by customer_id, as_of
),

disputes as (
    select customer_id, as_of, sum(disputes_n) as disputes_n
    from facts
    where disputes_n is not null
    group by customer_id, as_of
),

final as (
    select
        d.customer_id,
        d.as_of,
        -- settled before as_of
        coalesce(s.settled_n, 0)::bigint as settled_n,
        coalesce(s.late_n, 0)::bigint as late_n,
        coalesce(s.settled_amount, 0)::decimal(38, 2) as settled_amount,
        coalesce(s.days_late_sum, 0)::bigint as days_late_sum,
        coalesce(s.days_late_sq_sum, 0)::bigint as days_late_sq_sum,
        coalesce(s.amount_days_late_sum, 0)::decimal(38, 2) as amount_days_late_sum,
        coalesce(s.partial_n, 0)::bigint as partial_n,
        s.max_days_late::bigint as max_days_late,
        s.median_days_late::double as median_days_late,
        coalesce(s.settled_n_365d, 0)::bigint as settled_n_365d,
        coalesce(s.late_n_365d, 0)::bigint as late_n_365d,
        coalesce(s.days_late_sum_365d, 0)::bigint as days_late_sum_365d,
        coalesce(s.settled_n_90d, 0)::bigint as settled_n_90d,
        coalesce(s.late_n_90d, 0)::bigint as late_n_90d,
        coalesce(s.days_late_sum_90d, 0)::bigint as days_late_sum_90d,
        -- issued before as_of
        coalesce(i.issued_n, 0)::bigint as issued_n,
        coalesce(i.issued_amount, 0)::decimal(38, 2) as issued_amount,
        i.median_invoice_amount::double as median_invoice_amount,
        coalesce(i.issued_n_365d, 0)::bigint as issued_n_365d,
        coalesce(i.issued_amount_365d, 0)::decimal(38, 2) as issued_amount_365d,
        coalesce(i.credit_notes_n_365d, 0)::bigint as credit_notes_n_365d,
        i.first_issue_date,
        -- disputes and payments before as_of
        coalesce(x.disputes_n, 0)::bigint as disputes_n,
        p.last_payment_date,
        (
            coalesce(i.balance_days, 0) + coalesce(s.balance_days, 0)
        )::decimal(38, 2) as open_balance_days_365d,
        -- the last ten settlements
        list_avg([v // 2 for v in s.last10[1:5]])::double as avg_days_late_last5,
        list_median([v // 2 for v in s.last10])::double as median_days_late_last10,
        list_avg([v % 2 for v in s.last10])::double as share_paid_late_last10
    from customer_dates as d
    left join settled as s using (customer_id, as_of)
    left join issued as i using (customer_id, as_of)
    left join payments as p using (customer_id, as_of)
    left join disputes as x using (customer_id, as_of)
)

select * from final
