"""Every registered clv function, called from Python through the FFI at least once.

The calls are the tested examples of docs/sql-reference.md (the Rust suite checks their output
in crates/clv-core/tests/docs.rs): each runs here through datafusion-python, its result must
equal the documented output (rendered by the same arrow formatter), and together they must call
every function of clv's registry, whose list reaches Python through `clv.functions()`.
"""

from __future__ import annotations

import re

import pytest
from datafusion import SessionConfig, SessionContext
from datafusion._internal import DataFrame as _RustDataFrame

import clv

from conftest import REPO, SQL_REFERENCE


def _examples() -> tuple[str, list[tuple[str, str]]]:
    """The setup block and the (sql, expected text) examples of the SQL reference."""
    lines = SQL_REFERENCE.read_text().splitlines()
    setup, examples, i = "", [], 0
    while i < len(lines):
        fence = lines[i].strip()
        if fence in ("```sql", "```sql setup"):
            j = lines.index("```", i + 1)
            sql = "\n".join(lines[i + 1 : j])
            i = j + 1
            if fence == "```sql setup":
                setup = sql
                continue
            while not lines[i].strip():
                i += 1
            assert lines[i].strip() == "```text", f"line {i + 1}: an example needs its output"
            k = lines.index("```", i + 1)
            examples.append((sql, "\n".join(lines[i + 1 : k])))
            i = k + 1
        else:
            i += 1
    return setup, examples


SETUP, EXAMPLES = _examples()


def _calls(sql: str, name: str) -> bool:
    return re.search(rf"(?<![A-Za-z0-9_]){re.escape(name)}\(", sql) is not None


def _run(ctx: SessionContext, sql: str):
    batches = []
    for statement in (s.strip() for s in sql.split(";")):
        if statement:
            batches = ctx.sql(statement).collect()
    return batches


def _pretty(batches) -> str:
    """The batches rendered by arrow-rs' pretty printer, as the Rust doc test renders them
    (datafusion-python's own renderer, without its row limit)."""
    batches = [b for b in batches if b.num_rows > 0]
    if not batches:
        return ""
    text = _RustDataFrame.default_str_repr(batches, batches[0].schema, False, "")
    return text.removeprefix("DataFrame()\n")


def _data_lines(text: str) -> list[str]:
    """The rows of a rendered table (without its borders and header)."""
    lines = [line for line in text.strip().splitlines() if line.startswith("|")]
    return lines[1:]


def test_the_registry_reaches_python():
    names = [name for name, _ in clv.functions()]
    assert len(names) == len(set(names)), "a function is listed twice"
    kinds = {kind for _, kind in clv.functions()}
    assert kinds == {"table", "window", "aggregate", "scalar"}
    ctx = SessionContext(clv.session_config())
    assert clv.register(ctx) == names


def test_every_registered_function_is_called_by_an_example():
    called = {name for name, _ in clv.functions() if any(_calls(sql, name) for sql, _ in EXAMPLES)}
    missing = sorted({name for name, _ in clv.functions()} - called)
    assert not missing, f"no example calls {missing}"


@pytest.mark.parametrize(("sql", "expected"), EXAMPLES, ids=[f"example{i}" for i in range(len(EXAMPLES))])
def test_sql_reference_example_matches_the_documented_output(sql: str, expected: str, monkeypatch):
    # The examples' paths are relative to crates/clv-core, where the Rust doc test runs.
    monkeypatch.chdir(REPO / "crates" / "clv-core")
    # Two partitions, as the Rust doc test's context(2).
    ctx = clv.context(SessionConfig().with_target_partitions(2))
    _run(ctx, SETUP)
    actual = _pretty(_run(ctx, sql))
    if actual:
        assert actual.strip() == expected.strip()
    else:
        assert not _data_lines(expected), "the example returned no rows"

