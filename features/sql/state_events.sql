-- Grain: one row per invoice (credit notes excluded) of the customers of state_rows (the rows
-- whose state is computed, their customers numbered by `code`) whose last day to be paid on time
-- (due date + $grace_days) is before the latest as_of: what the customer state model
-- (features/state.py) observes, dates as days since 1970-01-01, sorted by customer code then
-- that last day. late: not settled by that day (paid late, or not yet paid). Which rows see
-- which invoice (last day on time before the row's as_of) is decided there, so that every row's
-- state is as of its own date.
select
    c.code,
    i.issue_date - date '1970-01-01' as issue_day,
    i.due_date + $grace_days::integer - date '1970-01-01' as known_day,
    coalesce(i.settled_date > i.due_date + $grace_days::integer, true) as late
from staging.invoice_settlements as i
join (select distinct customer_id, code from state_rows) as c using (customer_id)
where i.amount > 0
    and i.due_date + $grace_days::integer < (select max(as_of)::date from state_rows)
order by c.code, known_day
