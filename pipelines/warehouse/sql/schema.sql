-- The warehouse schema: `create ... if not exists`, run every time latepay opens the warehouse
-- for writing. A warehouse made by an earlier latepay is brought up to this schema by
-- pipelines/warehouse/migrations.py (numbered steps, recorded in meta.schema_version).
-- raw.*      rows as read, every value kept as text, with load_id, source file and line number
--            (the line where the row starts; for Excel the sheet row, for Parquet the row number).
-- staging.*  typed and keyed; what features read.
-- loads      one row per file loaded; rejects: every row not loaded, with the rule it broke.
create schema if not exists raw;
create schema if not exists staging;
create schema if not exists scoring;
create schema if not exists meta;

create sequence if not exists load_id_seq start 1;

create table if not exists loads (
    load_id integer primary key,
    kind varchar not null,
    file_name varchar not null,
    file_hash varchar not null,
    rows_read bigint,
    rows_loaded bigint,
    rows_rejected bigint,
    started_at timestamp not null,
    finished_at timestamp,
    -- rows_read = rows_loaded + rows_pending + rows_rejected
    rows_pending bigint,
    rows_updated bigint,
    rows_unchanged bigint,
    payments_derived bigint,
    payments_matched bigint,
    mapping_hash varchar,
    mapping_file varchar,
    source_format varchar,
    load_date date,
    promises_matched bigint,
    -- actions: pending actions of earlier loads that this load's customers or invoices matched
    -- (moved to staging.actions) or, matched, rejected (their reject keeps the load that read
    -- them); rows_left_empty: rows of a worklist workbook without an outcome (not read)
    actions_matched bigint,
    pending_rejected bigint,
    rows_left_empty bigint,
    -- an open-items export (latepay ingest --open-items): its date (null for other files), the
    -- invoices it settled by their absence, reopened, paid in part or whose derived payments it
    -- reversed (open_amount higher than before); the why of each: open_item_events
    open_items_date date,
    settled_by_absence bigint,
    reopened bigint,
    partially_paid bigint,
    payments_reversed bigint,
    -- the file's invoices (loaded) whose payment terms exceed the French caps (terms_over_cap)
    terms_over_cap bigint,
    -- a payments file's rows without an invoice: payments on account (loaded)
    payments_on_account bigint
);

create table if not exists rejects (
    load_id integer not null,
    file_name varchar not null,
    line bigint,
    rule varchar not null,
    message varchar not null,
    row_text varchar
);

-- n_fields: fields found on the row when it was read row by row (null when read by DuckDB, which
-- accepts only rows with as many fields as the header).
create table if not exists raw.customers (
    load_id integer, source_file varchar, line bigint,
    customer_id varchar, name varchar, country varchar, segment varchar,
    payment_terms_days varchar, preferred_channel varchar, collector varchar,
    n_fields integer
);
create table if not exists raw.invoices (
    load_id integer, source_file varchar, line bigint,
    invoice_id varchar, customer_id varchar, issue_date varchar, due_date varchar,
    amount varchar, currency varchar, disputed varchar, dispute_opened_date varchar,
    settled_date varchar, paid_amount varchar, customer_name varchar,
    payment_terms_days varchar, n_fields integer, open_amount varchar, credit_amount varchar
);
create table if not exists raw.payments (
    load_id integer, source_file varchar, line bigint,
    payment_id varchar, invoice_id varchar, payment_date varchar, amount varchar,
    n_fields integer, customer_id varchar
);
create table if not exists raw.promises (
    load_id integer, source_file varchar, line bigint,
    promise_id varchar, invoice_id varchar, promised_on varchar, promised_date varchar,
    amount varchar, n_fields integer
);
create table if not exists raw.actions (
    load_id integer, source_file varchar, line bigint,
    action_id varchar, customer_id varchar, invoice_id varchar, action_date varchar,
    action varchar, channel varchar, collector varchar, promised_date varchar,
    promised_amount varchar, note varchar, n_fields integer
);

create table if not exists staging.customers (
    customer_id varchar primary key,
    name varchar,
    country varchar,
    segment varchar,
    payment_terms_days integer,
    preferred_channel varchar,
    collector varchar,
    load_id integer
);
-- Grain: one row per invoice_id (the current version), one row per payment_id. The keys are
-- enforced by the ingest (duplicate_key rule, versioned updates), not by a primary-key index:
-- maintaining one on 10M rows costs more than the whole rest of a load.
-- terms_over_cap: the payment terms exceed the French caps (Code de commerce L441-10): amount > 0
-- and due_date later than issue_date + 60, the end of the issue month + 45 and the end of the
-- month of issue_date + 45 (pipelines/ingest/terms.py); a credit note never.
create table if not exists staging.invoices (
    invoice_id varchar not null,
    customer_id varchar not null,
    issue_date date not null,
    due_date date not null,
    amount decimal(18, 2) not null,
    currency varchar,
    disputed boolean not null,
    load_id integer,
    terms_over_cap boolean
);
-- Grain: one row per load that updated staging.invoice_settlements in place since it was last
-- rebuilt whole (pipelines/ingest `settle`): how many invoices it recomputed.
create table if not exists staging.settlements_appended (touched bigint);
create table if not exists staging.payments (
    payment_id varchar not null,
    invoice_id varchar not null,
    payment_date date not null,
    amount decimal(18, 2) not null,
    load_id integer
);
-- Grain: one row per disputed invoice. opened_date is when the dispute became known; an export
-- without dispute dates records the dispute as opened on the issue date. The invoice export and
-- the collections ledger both feed it: export_opened_date is the export's own opening (null when
-- only the ledger knows the dispute); opened_date the earliest opening of the two (a dispute the
-- ledger opens after it was resolved starts again from that date); resolved_date the ledger's
-- dispute_resolved on or after the opening (null while open). Disputed at D: opened_date < D
-- and not resolved_date < D.
create table if not exists staging.disputes (
    invoice_id varchar primary key,
    opened_date date not null,
    resolved_date date,
    export_opened_date date
);
-- Grain: one row per (invoice_id, valid_to_load_id): the versions of an invoice that a later
-- export replaced (the current version is in staging.invoices). valid_from_load_id is the load
-- that brought the version, valid_to_load_id the load that replaced it.
create table if not exists staging.invoice_versions (
    invoice_id varchar not null,
    customer_id varchar not null,
    issue_date date not null,
    due_date date not null,
    amount decimal(18, 2) not null,
    currency varchar,
    disputed boolean not null,
    dispute_opened_date date,
    valid_from_load_id integer,
    valid_to_load_id integer not null
);
-- Grain: one row per payment_id whose invoice is not in staging.invoices yet. Moved to
-- staging.payments by the load that brings the invoice.
-- Grain: one row per payment_id. A payment on account: a payments file's row naming its customer
-- and no invoice (cash the customer paid that is not applied to an invoice yet). The same
-- payment_id loaded later with an invoice moves to staging.payments (applied); one with an
-- invoice loaded again without moves back. Counted in the customer's credit
-- (features/receivables.py open_credit).
create table if not exists staging.payments_on_account (
    payment_id varchar primary key,
    customer_id varchar not null,
    payment_date date not null,
    amount decimal(18, 2) not null,
    load_id integer
);
create table if not exists staging.pending_payments (
    payment_id varchar primary key,
    invoice_id varchar not null,
    payment_date date not null,
    amount decimal(18, 2) not null,
    load_id integer,
    file_name varchar,
    line bigint
);
-- Grain: one row per promise_id (the current version). A promise to pay: on promised_on the
-- customer committed to pay the invoice by promised_date; amount is the promised amount, null for
-- "the open amount". Features may use a promise only where promised_on < as_of. Whether it was
-- kept is not stored: it follows from staging.payments (paid in full by promised_date or not).
create table if not exists staging.promises (
    promise_id varchar not null,
    invoice_id varchar not null,
    promised_on date not null,
    promised_date date not null,
    amount decimal(18, 2),
    load_id integer
);
-- Grain: one row per (promise_id, valid_to_load_id): versions of a promise that a later export
-- replaced (a promise re-sent under the same id with another date or amount).
create table if not exists staging.promise_versions (
    promise_id varchar not null,
    invoice_id varchar not null,
    promised_on date not null,
    promised_date date not null,
    amount decimal(18, 2),
    valid_from_load_id integer,
    valid_to_load_id integer not null
);
-- Grain: one row per promise_id whose invoice is not in staging.invoices yet. Moved to
-- staging.promises by the load that brings the invoice.
create table if not exists staging.pending_promises (
    promise_id varchar primary key,
    invoice_id varchar not null,
    promised_on date not null,
    promised_date date not null,
    amount decimal(18, 2),
    load_id integer,
    file_name varchar,
    line bigint
);
-- Grain: one row per action_id (the current version; a changed action replaces it, its earlier
-- values stay in raw.actions). The collections ledger: on action_date the collector did `action`
-- (models.ledger.ACTIONS) about invoice_id, or about the whole customer when invoice_id is null.
-- A promise_to_pay / payment_plan also becomes rows of staging.promises, a dispute_opened /
-- dispute_resolved on an invoice updates staging.disputes (see pipelines/ingest/ledger.py).
create table if not exists staging.actions (
    action_id varchar not null,
    customer_id varchar not null,
    invoice_id varchar,
    action_date date not null,
    action varchar not null,
    channel varchar,
    collector varchar,
    promised_date date,
    promised_amount decimal(18, 2),
    note varchar,
    load_id integer,
    source_file varchar,
    line bigint
);
-- Grain: one row per action_id whose customer, or invoice, is not in staging yet. Moved to
-- staging.actions (and checked again) by the load that brings them.
create table if not exists staging.pending_actions (
    action_id varchar primary key,
    customer_id varchar not null,
    invoice_id varchar,
    action_date date not null,
    action varchar not null,
    channel varchar,
    collector varchar,
    promised_date date,
    promised_amount decimal(18, 2),
    note varchar,
    load_id integer,
    source_file varchar,
    line bigint
);

-- Grain: one row per (export_date, invoice_id): the invoices an open-items export listed open
-- on export_date (its rows whose invoice is in staging.invoices, rejected rows included: a listed
-- invoice is not settled by its absence). open_amount as the export gave it (null without the
-- column, or when its row was rejected). A second export of the same date replaces the first.
create table if not exists staging.open_item_exports (
    export_date date not null,
    invoice_id varchar not null,
    open_amount decimal(18, 2),
    load_id integer not null
);
-- Grain: one row per (load_id, invoice_id, event): what an open-items export changed, and why.
-- event: settled_by_absence (payment <invoice_id>#closed-<export_date> added), reopened (that
-- payment removed: the invoice was listed again), partially_paid (open_amount went down: payment
-- <invoice_id>#partial-<export_date>), reversed (open_amount went up: derived payments reduced),
-- trimmed (payments from a payments file now cover the invoice: derived payments reduced).
-- amount: the payment added, removed or the reduction.
create table if not exists open_item_events (
    load_id integer not null,
    export_date date not null,
    invoice_id varchar not null,
    event varchar not null,
    amount decimal(18, 2),
    payment_id varchar,
    reason varchar not null
);

-- Grain: one row per scoring run (published, refused or failed), key run_id.
create table if not exists scoring.runs (
    run_id varchar primary key,
    as_of date not null,
    model_version varchar,
    status varchar not null,          -- published | refused
    finished_at timestamp not null,
    invoices_scored bigint,
    customers_listed bigint,
    message varchar,
    receivables double,
    sales_90d double,
    dso double
);
