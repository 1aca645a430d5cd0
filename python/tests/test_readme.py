"""The five-line examples of the README and docs/python.md run as written."""

from __future__ import annotations

import contextlib
import io
import re

import pytest

from conftest import REPO


def _first_python_block(path, heading: str) -> str:
    text = (REPO / path).read_text()
    section = text[text.index(heading) :]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


@pytest.mark.parametrize(("path", "heading"), [("README.md", "## Using it from Python"), ("docs/python.md", "## Five lines")])
def test_five_line_example_runs(path, heading, monkeypatch):
    code = _first_python_block(path, heading)
    assert len(code.strip().splitlines()) == 5
    monkeypatch.chdir(REPO)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, f"{path} example", "exec"), {})
    printed = out.getvalue()
    # Customer 1 bought last on 1997-01-01: 545 days before the SET as_of, 1998-06-30.
    first = printed.splitlines()[1].split()
    assert first[:3] == ["0", "1", "545"], printed
