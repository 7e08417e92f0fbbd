-- Grain: one row per (customer_id, as_of) present in open_invoices.
-- The customer's totals from facts dated before as_of, aggregated directly: each invoice of the
-- customer is one row per date, its measures null where they do not apply at that date (not yet
-- settled, outside a window), and one group-by sums them all. The path for one or a few dates
-- (nightly scoring): each date reads the customer's invoices once, with no per-day running
-- state. staging.invoice_settlements keeps a customer's invoices together, which makes the
-- group-by cheap. customer_totals_running gives the same columns and values, to the bit, for
-- many dates (training).
with

customer_dates as (
    select distinct customer_id, as_of from open_invoices
),

dates as (
    select distinct as_of::date as as_of from as_of_dates
),

invoices as not materialized (
    -- the sample of open_invoices (every customer when $sample_one_in is 1): customers with no
    -- open invoice are summed too, and dropped by the final join (cheaper than filtering them)
    select * from staging.invoice_settlements
    where $sample_one_in = 1 or hash(customer_id) % $sample_one_in::ubigint = 0
),

at_date as not materialized (
    -- facts before as_of: issued, settled, paid (the latest payment before as_of), disputed
    select
        d.as_of,
        i.customer_id,
        i.invoice_id,
        case when i.amount > 0 and i.issue_date < d.as_of then i.amount end as issued_amount,
        case when i.amount > 0 and i.issue_date < d.as_of then i.issue_date end as issued_date,
        case when i.amount < 0 and i.issue_date < d.as_of then i.issue_date end as credit_date,
        case when i.amount > 0 and i.settled_date < d.as_of then i.settled_date end as settled_date,
        case when i.amount > 0 and i.settled_date < d.as_of then i.amount end as settled_amount,
        case when i.amount > 0 and i.settled_date < d.as_of then i.settled_date - i.due_date end
            as days_after_due,
        case when i.amount > 0 and i.settled_date < d.as_of then i.payments_to_settle end
            as payments_to_settle,
        case when i.dispute_opened_date < d.as_of then 1 end as dispute,
        -- fallen due before as_of (the last day to pay on time is before as_of): paid late or
        -- not yet paid (known the day after that last day)
        case when i.amount > 0 and i.due_date + $grace_days::integer < d.as_of then
            coalesce(i.settled_date > i.due_date + $grace_days::integer, true)::int
        end as late_by_due,
        case when i.amount > 0 then i.due_date + $grace_days::integer end as last_day_on_time,
        case
            when i.last_payment_date < d.as_of then i.last_payment_date
            when i.first_payment_date < d.as_of then i.first_payment_date
        end as payment_date,
        -- a payment between the first and the last may be later than the first and before as_of
        i.n_payments >= 3 and i.first_payment_date < d.as_of and i.last_payment_date >= d.as_of
            as has_middle_payment
    from invoices as i
    join dates as d
        on i.issue_date < d.as_of
        or i.first_payment_date < d.as_of
        or i.dispute_opened_date < d.as_of
),

measures as not materialized (
    select
        *,
        -- null when not settled (greatest would ignore the null)
        case when days_after_due < 0 then 0 else days_after_due end as days_late,
        (days_after_due > $grace_days)::int as is_late,
        -- the 365-day and 90-day windows
        case when settled_date >= as_of - 365 then greatest(days_after_due, 0) end
            as days_late_365d,
        case when settled_date >= as_of - 365 then (days_after_due > $grace_days)::int end
            as is_late_365d,
        case when settled_date >= as_of - 90 then greatest(days_after_due, 0) end
            as days_late_90d,
        case when settled_date >= as_of - 90 then (days_after_due > $grace_days)::int end
            as is_late_90d,
        case when issued_date >= as_of - 365 then issued_amount end as issued_amount_365d,
        credit_date >= as_of - 365 or null as credit_note_365d,
        (payments_to_settle > 1)::int as partial_n,
        case when days_after_due <= 0 then -days_after_due end as days_early,
        case when last_day_on_time >= as_of - 365 then late_by_due end as late_by_due_365d,
        -- recency weight: 365 for the day before as_of, down to 0 a year before
        case when last_day_on_time >= as_of - 365 and late_by_due is not null
            then 365 - (as_of - last_day_on_time)
        end as due_weight_365d,
        (settled_date = last_day(settled_date))::int as month_end_n,
        case when last_day_on_time >= as_of - 90 then late_by_due end as late_by_due_90d,
        -- days t in [as_of - 364, as_of] from the day after issue (settlement) on, times the
        -- amount (minus the amount): summed, the daily amounts of open invoices over those days
        coalesce(issued_amount * (as_of - greatest(issued_date, as_of - 365)), 0)
            - coalesce(settled_amount * (as_of - greatest(settled_date, as_of - 365)), 0)
            as balance_days
    from at_date
),

totals as (
    select
        customer_id,
        as_of,
        count(days_late) as settled_n,
        sum(is_late) as late_n,
        sum(settled_amount) as settled_amount,
        sum(days_late) as days_late_sum,
        sum(days_late * days_late) as days_late_sq_sum,
        sum(settled_amount * days_late) as amount_days_late_sum,
        sum(partial_n) as partial_n,
        max(days_late) as max_days_late,
        -- as integer: a median of 32-bit values sorts faster (days late fit easily)
        median(days_late::integer) as median_days_late,
        count(days_late_365d) as settled_n_365d,
        sum(is_late_365d) as late_n_365d,
        sum(days_late_365d) as days_late_sum_365d,
        count(days_late_90d) as settled_n_90d,
        sum(is_late_90d) as late_n_90d,
        sum(days_late_90d) as days_late_sum_90d,
        -- the last ten settlements, latest first: ordered by settlement date then days after due
        -- (settlements equal in both carry the same value), with 2 * days_late + is_late in the
        -- low 16 bits (days after due lie within +-32767 days: dates are after 1990, not in the
        -- future, terms at most two years)
        max(
            (settled_date - date '1970-01-01')::bigint * 4294967296
            + (days_after_due + 32768)::bigint * 65536
            + 2 * days_late + is_late,
            10
        ) as last10,
        count(days_early) as on_time_n,
        sum(days_early) as days_early_sum,
        count(late_by_due) as due_n,
        sum(late_by_due) as late_by_due_n,
        count(late_by_due_365d) as due_n_365d,
        sum(late_by_due_365d) as late_by_due_n_365d,
        sum(due_weight_365d) as due_weight_365d,
        sum(late_by_due_365d * due_weight_365d) as late_by_due_weight_365d,
        sum(month_end_n) as month_end_n,
        count(late_by_due_90d) as due_n_90d,
        sum(late_by_due_90d) as late_by_due_n_90d,
        count(issued_amount) as issued_n,
        sum(issued_amount) as issued_amount,
        median(issued_amount::double) as median_invoice_amount,
        count(issued_amount_365d) as issued_n_365d,
        sum(issued_amount_365d) as issued_amount_365d,
        count(credit_note_365d) as credit_notes_n_365d,
        min(issued_date) as first_issue_date,
        sum(balance_days) as balance_days,
        max(payment_date) as last_payment_date,
        count(dispute) as disputes_n
    from measures
    group by customer_id, as_of
),

middle_payments as (
    -- the latest payment before as_of of invoices paid three times or more, paid before and
    -- after as_of (none at the end of the data)
    select a.customer_id, a.as_of, max(p.payment_date) as last_payment_date
    from at_date as a
    join staging.payments as p
        on p.invoice_id = a.invoice_id
        and p.payment_date < a.as_of
    where a.has_middle_payment
    group by a.customer_id, a.as_of
),

final as (
    select
        d.customer_id,
        d.as_of,
        -- settled before as_of
        coalesce(t.settled_n, 0)::bigint as settled_n,
        coalesce(t.late_n, 0)::bigint as late_n,
        coalesce(t.settled_amount, 0)::decimal(38, 2) as settled_amount,
        coalesce(t.days_late_sum, 0)::bigint as days_late_sum,
        coalesce(t.days_late_sq_sum, 0)::bigint as days_late_sq_sum,
        coalesce(t.amount_days_late_sum, 0)::decimal(38, 2) as amount_days_late_sum,
        coalesce(t.partial_n, 0)::bigint as partial_n,
        t.max_days_late::bigint as max_days_late,
        t.median_days_late::double as median_days_late,
        coalesce(t.settled_n_365d, 0)::bigint as settled_n_365d,
        coalesce(t.late_n_365d, 0)::bigint as late_n_365d,
        coalesce(t.days_late_sum_365d, 0)::bigint as days_late_sum_365d,
        coalesce(t.settled_n_90d, 0)::bigint as settled_n_90d,
        coalesce(t.late_n_90d, 0)::bigint as late_n_90d,
        coalesce(t.days_late_sum_90d, 0)::bigint as days_late_sum_90d,
        coalesce(t.on_time_n, 0)::bigint as on_time_n,
        coalesce(t.days_early_sum, 0)::bigint as days_early_sum,
        coalesce(t.month_end_n, 0)::bigint as month_end_n,
        -- fallen due before as_of, and paid late or not yet paid
        coalesce(t.due_n, 0)::bigint as due_n,
        coalesce(t.late_by_due_n, 0)::bigint as late_by_due_n,
        coalesce(t.due_n_365d, 0)::bigint as due_n_365d,
        coalesce(t.late_by_due_n_365d, 0)::bigint as late_by_due_n_365d,
        coalesce(t.due_weight_365d, 0)::bigint as due_weight_365d,
        coalesce(t.late_by_due_weight_365d, 0)::bigint as late_by_due_weight_365d,
        coalesce(t.due_n_90d, 0)::bigint as due_n_90d,
        coalesce(t.late_by_due_n_90d, 0)::bigint as late_by_due_n_90d,
        -- issued before as_of
        coalesce(t.issued_n, 0)::bigint as issued_n,
        coalesce(t.issued_amount, 0)::decimal(38, 2) as issued_amount,
        t.median_invoice_amount::double as median_invoice_amount,
        coalesce(t.issued_n_365d, 0)::bigint as issued_n_365d,
        coalesce(t.issued_amount_365d, 0)::decimal(38, 2) as issued_amount_365d,
        coalesce(t.credit_notes_n_365d, 0)::bigint as credit_notes_n_365d,
        t.first_issue_date,
        -- disputes and payments before as_of
        coalesce(t.disputes_n, 0)::bigint as disputes_n,
        greatest(t.last_payment_date, m.last_payment_date) as last_payment_date,
        coalesce(t.balance_days, 0)::decimal(38, 2) as open_balance_days_365d,
        -- the last ten settlements (the low 16 bits: 2 * days_late + is_late)
        list_avg([(v % 65536) // 2 for v in t.last10[1:5]])::double as avg_days_late_last5,
        list_median([(v % 65536) // 2 for v in t.last10])::double as median_days_late_last10,
        list_avg([v % 2 for v in t.last10])::double as share_paid_late_last10
    from customer_dates as d
    left join totals as t using (customer_id, as_of)
    left join middle_payments as m using (customer_id, as_of)
)

select * from final
