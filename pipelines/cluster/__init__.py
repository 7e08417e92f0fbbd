"""latepay on a Dask cluster (`LATEPAY_DASK_ADDRESS`): what runs on the workers and how it gets there.

It owns the export of the staging tables to Parquet, partitioned by a hash of customer_id, in the
shared directory (`partitions.py`); the work each partition does on a worker with an in-memory
DuckDB holding that partition under the warehouse's own table names, through the single-machine
entry points (`features.runner.build_features`, `snapshot_outcomes`, `RiskModel.predict`:
`tasks.py`); the LightGBM fits with its Dask estimators and the backtest on the cluster
(`training.py`); and the client, the Prefect task runner and the jobs' hooks (`jobs.py`). A feature
reads one customer's history, so every partition's features are those of the single-machine build,
to the bit; the gathered scores are ranked and published by `pipelines.jobs.score` as on one machine.
Settings are passed in; nothing here reads the environment.
"""


class ClusterError(RuntimeError):
    """The cluster cannot do what was asked (unreachable, or a workload it does not run); the
    message says what to do. (Here, not in jobs.py: the CLI catches it without importing Dask.)"""
