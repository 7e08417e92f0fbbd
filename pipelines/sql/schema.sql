-- The warehouse schema, created (idempotently) every time latepay opens the warehouse.
-- raw.*      rows as read, every value kept as text, with load_id and source line number.
-- staging.*  typed and keyed; what features read.
-- loads      one row per file loaded; rejects: every row not loaded, with the rule it broke.
create schema if not exists raw;
create schema if not exists staging;
create schema if not exists scoring;

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
    finished_at timestamp
);

create table if not exists rejects (
    load_id integer not null,
    file_name varchar not null,
    line bigint,
    rule varchar not null,
    message varchar not null,
    row_text varchar
);

create table if not exists raw.customers (
    load_id integer, source_file varchar, line bigint,
    customer_id varchar, name varchar, country varchar, segment varchar,
    payment_terms_days varchar, preferred_channel varchar, collector varchar
);
create table if not exists raw.invoices (
    load_id integer, source_file varchar, line bigint,
    invoice_id varchar, customer_id varchar, issue_date varchar, due_date varchar,
    amount varchar, currency varchar, disputed varchar, dispute_opened_date varchar
);
create table if not exists raw.payments (
    load_id integer, source_file varchar, line bigint,
    payment_id varchar, invoice_id varchar, payment_date varchar, amount varchar
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
create table if not exists staging.invoices (
    invoice_id varchar primary key,
    customer_id varchar not null,
    issue_date date not null,
    due_date date not null,
    amount decimal(18, 2) not null,
    currency varchar,
    disputed boolean not null,
    load_id integer
);
create table if not exists staging.payments (
    payment_id varchar primary key,
    invoice_id varchar not null,
    payment_date date not null,
    amount decimal(18, 2) not null,
    load_id integer
);
-- Grain: one row per disputed invoice. opened_date is when the dispute became known; an export
-- without dispute dates records the dispute as opened on the issue date.
create table if not exists staging.disputes (
    invoice_id varchar primary key,
    opened_date date not null
);
