"""Every bench takes `--json` (bench/report.py) and its docstring says what the JSON object holds."""

import ast
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
BENCHES = sorted(
    path
    for path in BENCH.glob("*.py")
    if any(isinstance(node, ast.FunctionDef) and node.name == "main" for node in ast.parse(path.read_text()).body)
)


def test_the_benches_are_found():
    assert {"pipeline.py", "index.py", "search.py", "extraction.py"} <= {path.name for path in BENCHES}


@pytest.mark.parametrize("path", BENCHES, ids=lambda path: path.name)
def test_a_bench_takes_json_and_documents_its_keys(path):
    source = path.read_text()
    assert "json_flag(" in source or "json_arguments(" in source
    assert "print_json(" in source
    assert "--json" in (ast.get_docstring(ast.parse(source)) or "")
