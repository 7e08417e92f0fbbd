"""latepay on a Dask cluster (pipelines/cluster): the export keeps every customer whole in one
partition, the features built partition by partition are those of one machine to the bit, and a
LocalCluster trains, scores and publishes a worklist that agrees with the single-machine one.

Clusters: features only need DuckDB and pandas, so that test runs its workers as threads of the
test process (processes=False: no start-up of worker processes, about a second saved). Training
needs processes (processes=True, LATEPAY_DASK_ADDRESS=local): LightGBM's distributed learner
keeps its network (one socket per machine) in process-global state, so two workers in one
process cannot both join a fit.
"""

from __future__ import annotations

from datetime import date, timedelta

import duckdb
import numpy as np
import pandas as pd
import pytest
from distributed import Client, LocalCluster

from features.runner import build_features
from pipelines.cluster.partitions import EXPORTED, exported, open_partition, partition_of
from pipelines.cluster.tasks import partition_features
from pipelines.warehouse import connect, rebuild_settlements
from tests.conftest import settings_in

AS_OF = date(2026, 11, 1)


def _one_customer_per_partition(partitions: int, used: int) -> list[str]:
    """Customer ids hashing to partitions 0, 1, ..., used - 1 (DuckDB's hash), in that order."""
    candidates = [f"C{i:03d}" for i in range(200)]
    parts = partition_of(candidates, partitions)
    return [candidates[parts.index(p)] for p in range(used)]


def test_export_keeps_each_customer_in_one_partition(tmp_path):
    # 4 partitions, customers hashing to 0, 1 and 2: partition 3 is empty
    customers = _one_customer_per_partition(4, 3)
    con = connect(":memory:")
    for k, customer in enumerate(customers):
        con.execute(
            "insert into staging.customers (customer_id, name, country) values (?, ?, 'FR')",
            [customer, f"Customer {k}"],
        )
        for n in range(3):  # three invoices each, the first two paid
            invoice = f"{customer}-INV{n}"
            con.execute(
                "insert into staging.invoices (invoice_id, customer_id, issue_date, due_date, "
                "amount, currency, disputed) values (?, ?, date '2026-01-05' + ?, "
                "date '2026-02-04' + ?, 100.50, 'EUR', false)",
                [invoice, customer, 10 * n, 10 * n],
            )
            if n < 2:
                con.execute(
                    "insert into staging.payments (payment_id, invoice_id, payment_date, amount) "
                    "values (?, ?, date '2026-02-10' + ?, 100.50)",
                    [f"{invoice}-P", invoice, 10 * n],
                )
    # a payment of an invoice the warehouse does not hold: no customer, never exported
    con.execute(
        "insert into staging.payments (payment_id, invoice_id, payment_date, amount) "
        "values ('ORPHAN', 'NO-SUCH-INVOICE', date '2026-03-01', 5)"
    )
    rebuild_settlements(con)
    with exported(con, tmp_path, 4) as export:
        for part in range(4):
            held = open_partition(export, part)
            for table in EXPORTED:
                # the warehouse's columns and types, whatever the partition holds
                assert _types(held, table) == _types(con, table)
            ids = {t: _column(held, t) for t in ("customers", "invoices", "invoice_settlements")}
            payments = _column(held, "payments", "payment_id")
            if part == 3:
                assert ids == {t: [] for t in ids} and payments == []
                continue
            customer = customers[part]
            invoices = [f"{customer}-INV{n}" for n in range(3)]
            assert ids["customers"] == [customer]
            assert ids["invoices"] == ids["invoice_settlements"] == [customer] * 3
            assert _column(held, "invoices", "invoice_id") == invoices
            assert payments == [f"{invoices[0]}-P", f"{invoices[1]}-P"]
        root = export.root
    assert not root.exists()  # the export is removed after the block


def _types(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple[str, str]]:
    return [(name, kind) for name, kind, *_ in con.execute(f"describe staging.{table}").fetchall()]


def _column(con: duckdb.DuckDBPyConnection, table: str, column: str = "customer_id") -> list:
    return [
        r[0] for r in con.execute(f"select {column} from staging.{table} order by 1").fetchall()
    ]


@pytest.fixture(scope="module")
def book_warehouse(small_book_dir, tmp_path_factory):
    from pipelines.jobs.ingest import ingest

    settings = settings_in(tmp_path_factory.mktemp("cluster_book"))
    ingest(settings, [small_book_dir])
    return settings


def test_cluster_features_equal_single_machine_to_the_bit(book_warehouse, tmp_path):
    # one date (customer totals aggregated directly) and 12 dates (running totals): every
    # column, value, dtype and the row order of build_features, from 5 partitions
    weekly = [date(2026, 8, 1) + timedelta(days=7 * k) for k in range(12)]
    dates = {"nightly": [AS_OF], "training": weekly}
    with (
        connect(book_warehouse.warehouse_path, read_only=True) as con,
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as client,
        exported(con, tmp_path, 5) as export,
    ):
        for name, at in dates.items():
            single = build_features(con, at)
            parts = client.gather(
                client.map(partition_features, [export] * 5, range(5), dates=at, grace_days=0)
            )
            assert all(len(p) for p in parts), name  # every partition holds customers here
            together = pd.concat(parts, ignore_index=True)
            together = together.sort_values(["as_of", "invoice_id"], ignore_index=True)
            pd.testing.assert_frame_equal(together, single, check_exact=True, obj=name)


@pytest.mark.slow
def test_local_cluster_trains_scores_and_publishes_the_same_worklist(
    trained_book, book_copy, tmp_path
):
    """Train, score and publish on a LocalCluster of 2 worker processes; compare with the
    single-machine champion of the same book (trained_book) on the same date.

    Tolerance: distributed LightGBM is not the single-machine booster. Each worker builds the
    gradient histograms of its own rows (summed over the network: exact up to float addition
    order), but the bin boundaries of each feature are found on the rows of one worker (the
    feature's owner), and the single-machine fit bins once on a sample of the whole set: the
    trees split at other thresholds. The per-invoice snapshot draws are per partition. So the
    scores are not equal to the bit; they must rank alike. Measured on this book (200 customers,
    742 open invoices, four runs): Spearman correlation 0.92-0.95 for p_late_30 (many small,
    nearly tied risks) and 0.98 for p_late; 8 to 10 of the top 10 customers and 58 to 60 of the
    60 published shared. Asserted, with a margin for the scheduling (which worker holds which
    partition changes the bins): Spearman >= 0.85 (p_late_30) and >= 0.95 (p_late), top-10
    overlap >= 7, published overlap >= 90%.
    """
    from pipelines.jobs import score, train

    single = score.score(book_copy, AS_OF)
    on_cluster = settings_in(
        tmp_path / "cluster",
        sample_dir=book_copy.sample_dir,
        warehouse_path=book_copy.warehouse_path,
        dask_address="local",
        dask_partitions=4,
        shared_dir=tmp_path / "shared",
    )
    trained = train.train(on_cluster, force_promote=True)
    # every snapshot of every customer (one machine draws none away on this book either), the
    # same backtest cuts and test snapshots
    assert trained.training_rows == trained_book.trained.training_rows
    assert trained.backtest.cuts == trained_book.backtest.cuts
    assert trained.backtest.test_rows == trained_book.backtest.test_rows
    assert trained.backtest.flat_metrics()["backtest_late_30_model_auc"] > 0.6
    # the payment-date forecast at issue, on the same first snapshots as on one machine
    at_issue = trained.backtest.overall["days_late_at_issue"]
    assert at_issue["n"] == trained_book.backtest.overall["days_late_at_issue"]["n"] > 0
    assert at_issue["model"]["mae_days"] >= 0
    scored = score.score(on_cluster, AS_OF)
    assert (on_cluster.outputs_dir / AS_OF.isoformat() / "worklist.csv").exists()
    assert list((tmp_path / "shared").iterdir()) == []  # exports removed
    with duckdb.connect(str(on_cluster.warehouse_path), read_only=True) as con:
        [(runs,)] = con.execute(
            "select count(*) from scoring.runs where as_of = ? and status = 'published'", [AS_OF]
        ).fetchall()
    assert runs >= 2  # the single-machine run and the cluster run, stored alike
    both = single.scores.merge(scored.scores, on="invoice_id", suffixes=("_one", "_cluster"))
    assert len(both) == len(single.scores) == len(scored.scores)
    rho = both["p_late_30_one"].rank().corr(both["p_late_30_cluster"].rank())
    top = set(single.worklist["customer_id"][:10]) & set(scored.worklist["customer_id"][:10])
    listed = set(single.published["customer_id"]) & set(scored.published["customer_id"])
    rho_late = both["p_late_one"].rank().corr(both["p_late_cluster"].rank())
    print(
        f"spearman p_late_30 {rho:.4f}, p_late {rho_late:.4f}; top-10 customers shared "
        f"{len(top)}; published shared {len(listed)} of {len(single.published)}"
    )
    assert rho >= 0.85 and rho_late >= 0.95
    assert len(top) >= 7
    assert len(listed) >= 0.9 * len(single.published)
    assert np.isfinite(both["days_to_pay_p50_cluster"]).all()


@pytest.mark.slow
def test_score_flow_on_the_dask_task_runner(book_copy, monkeypatch, tmp_path):
    """With LATEPAY_DASK_ADDRESS=local the flow takes prefect-dask's task runner: its score task
    runs on a Dask worker, which scores the partitions on that same cluster (worker_client)."""
    from prefect.testing.utilities import prefect_test_harness
    from prefect_dask import DaskTaskRunner

    from pipelines.flows import on_cluster, score_flow
    from tests.conftest import set_env

    settings = settings_in(
        tmp_path,
        sample_dir=book_copy.sample_dir,
        warehouse_path=book_copy.warehouse_path,
        mlflow_tracking_uri=book_copy.mlflow_tracking_uri,
        mlflow_artifacts_dir=book_copy.mlflow_artifacts_dir,
        dask_address="local",
        dask_partitions=3,
        shared_dir=tmp_path / "shared",
    )
    set_env(settings, monkeypatch)
    # no address: the flow unchanged
    assert on_cluster(score_flow, settings_in(tmp_path, dask_address=None)) is score_flow
    on_dask = on_cluster(score_flow, settings)
    assert isinstance(on_dask.task_runner, DaskTaskRunner)
    with prefect_test_harness():
        folder = on_dask(as_of=AS_OF)
    assert (tmp_path / "outputs" / AS_OF.isoformat() / "worklist.csv").exists()
    assert folder.endswith(AS_OF.isoformat())


def test_cluster_faults_are_one_line_errors(tmp_path, monkeypatch):
    from pipelines.cluster import ClusterError
    from pipelines.cluster import jobs as cluster
    from pipelines.jobs import train

    settings = settings_in(tmp_path, dask_address="tcp://127.0.0.1:1")
    with pytest.raises(ClusterError, match="tuning runs on one machine only"):
        train.train(settings, tune_trials=2)
    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT", "0.5s")
    with (
        pytest.raises(
            ClusterError, match=r"cannot reach the Dask scheduler at tcp://127\.0\.0\.1:1"
        ),
        cluster.cluster_client(settings),
    ):
        pass
