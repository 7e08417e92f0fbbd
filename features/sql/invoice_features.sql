-- Grain: one row per (invoice_id, as_of) open at as_of; key (invoice_id, as_of).
-- Every model feature: invoice context at as_of, the customer's history before as_of, the
-- customer's exposure at as_of, and the customer's descriptive attributes.
-- $snapshot_one_in > 1 keeps one (invoice, as_of) row in that many, by a hash of the pair, and
-- every row of an invoice issued at most $first_snapshot_days days before as_of: each invoice's
-- first snapshot when the dates are that many days apart (the training sets of large books: see
-- pipelines.jobs.training_sample). The customer's exposure is still computed over all its open
-- invoices: a kept row's values are those of the full build.
with

open_invoices as (
    select * from open_invoices
    where $snapshot_one_in = 1
        or as_of - issue_date <= $first_snapshot_days
        or hash(invoice_id, as_of) % $snapshot_one_in::ubigint = 0
),

customers as (
    select customer_id, country, segment, preferred_channel, payment_terms_days
    from staging.customers
),

final as (
    select
        o.invoice_id,
        o.customer_id,
        o.as_of,
        o.issue_date,
        o.due_date,
        o.open_amount,
        -- invoice context
        o.amount,
        o.amount / nullif(h.avg_invoice_amount, 0) as amount_vs_customer_avg,
        o.amount / nullif(h.median_invoice_amount, 0) as amount_vs_customer_median,
        o.paid_before_as_of / o.amount as share_already_paid,
        o.due_date - o.issue_date as terms_days,
        o.as_of - o.issue_date as days_since_issue,
        o.as_of - o.due_date as days_past_due,
        day(o.due_date) as due_day_of_month,
        (o.due_date = last_day(o.due_date))::int as due_is_month_end,
        month(o.due_date) as due_month,
        o.is_disputed::int as is_disputed,
        c.country,
        c.segment,
        c.preferred_channel,
        c.payment_terms_days as customer_terms_days,
        -- customer history before as_of
        h.* exclude (
            customer_id,
            as_of,
            avg_invoice_amount,
            median_invoice_amount,
            avg_monthly_billing_365d,
            usual_open_amount_365d
        ),
        -- customer exposure at as_of
        x.* exclude (customer_id, as_of, open_invoices_amount, unpaid_fallen_due_90d),
        x.unpaid_fallen_due_90d / nullif(h.invoices_fallen_due_90d, 0)
            as share_fallen_due_90d_still_unpaid,
        x.customer_open_amount / nullif(h.avg_monthly_billing_365d, 0) as open_amount_vs_monthly_billing,
        x.open_invoices_amount / nullif(h.usual_open_amount_365d, 0) as open_amount_vs_usual
    from open_invoices as o
    left join customers as c using (customer_id)
    left join customer_history as h using (customer_id, as_of)
    left join customer_exposure as x using (customer_id, as_of)
)

select * from final
