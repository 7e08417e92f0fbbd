-- Grain: one row per invoice (credit notes excluded) of the customers in open_invoices whose
-- last day to be paid on time (due date + $grace_days) is before the latest as_of: what the
-- customer state model (features/state.py) observes. late: not settled by that day (paid late,
-- or not yet paid). Which rows see which invoice (last day on time before the row's as_of) is
-- decided there, so that every row's state is as of its own date.
select
    i.customer_id,
    i.issue_date,
    i.due_date + $grace_days::integer as last_day_on_time,
    coalesce(i.settled_date > i.due_date + $grace_days::integer, true) as late
from staging.invoice_settlements as i
where i.amount > 0
    and i.due_date + $grace_days::integer < (select max(as_of)::date from as_of_dates)
    and i.customer_id in (select customer_id from open_invoices)
