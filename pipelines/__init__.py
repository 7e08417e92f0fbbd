"""latepay's edge: settings, warehouse I/O, MLflow, publishing, Prefect flows and the CLI."""

import os

# LightGBM's OpenMP threads spin while waiting by default; on a 2-core machine shared with any
# other busy process that makes training 5x slower (measured: 26 s instead of 5 s). Must be set
# before lightgbm is first imported, hence here, at the entry of every command.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
