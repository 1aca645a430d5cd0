"""Shared fixtures: the repository's test data, a clv context, the clv binary for Rust results."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import clv

REPO = Path(__file__).resolve().parents[2]
CDNOW = REPO / "testdata" / "cdnow_master.parquet"
SQL_REFERENCE = REPO / "docs" / "sql-reference.md"


@pytest.fixture
def ctx():
    """A fresh context with clv registered and its options enabled."""
    return clv.context()


@pytest.fixture
def cdnow(ctx):
    """``ctx`` with CDNOW's master file registered as ``orders``."""
    ctx.register_parquet("orders", str(CDNOW))
    return ctx


def _clv_binary() -> str | None:
    if os.environ.get("CLV_BIN"):
        return os.environ["CLV_BIN"]
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    for profile in ("debug", "release"):
        candidate = target / profile / "clv"
        if candidate.exists():
            return str(candidate)
    return shutil.which("clv")


@pytest.fixture(scope="session")
def rust_sql(tmp_path_factory):
    """Runs a query through the `clv sql` binary (the Rust result) and returns an Arrow table.

    CI (CI=1) builds the binary in `cargo test` and fails here if it is missing; elsewhere the
    comparison is skipped with the reason.
    """
    binary = _clv_binary()
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("the clv binary is missing: run `cargo build -p clv-cli` or set CLV_BIN")
        pytest.skip("the clv binary is missing (cargo build -p clv-cli, or set CLV_BIN)")
    out_dir = tmp_path_factory.mktemp("rust")
    counter = iter(range(10**9))

    def run(query: str, tables: dict[str, Path] | None = None) -> pa.Table:
        out = out_dir / f"r{next(counter)}.parquet"
        args = [binary, "sql", query, "--out", str(out)]
        for name, path in (tables or {}).items():
            args += ["--table", f"{name}={path}"]
        done = subprocess.run(args, capture_output=True, text=True, check=False)
        assert done.returncode == 0, f"clv sql failed: {done.stderr}"
        return pq.read_table(out)

    return run
