"""The layers hold: the kernel imports no stage, a stage imports the kernel and its upstream's
contract only, only the operator-facing top (`newsflow.ops`, and the DAGs of dags/) imports several
stages, and nothing imports a DAG."""

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROJECT = ("newsflow", "ingest", "transform", "search", "dags")
# What each layer may import of the project, besides itself.
ALLOWED = {
    "newsflow": ("newsflow",),  # the kernel: newsflow.ops excepted below
    "ingest": ("newsflow", "ingest"),
    "transform": ("newsflow", "transform", "ingest.contract"),
    "search": ("newsflow", "search", "transform.contract"),
    # The DAGs schedule what the stages and newsflow.ops do; each DAG file stands alone (Airflow
    # imports it by path), so not even another DAG imports it.
    "dags": ("newsflow", "ingest", "transform", "search"),
}
ENTRY_POINT = ROOT / "newsflow" / "__main__.py"  # `python -m newsflow` runs the top's command


def imports(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return [name for name in names if name.split(".")[0] in PROJECT]


def within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def violations(layer: str) -> list[str]:
    found = []
    for path in sorted((ROOT / layer).rglob("*.py")):
        # newsflow.ops and the entry point are the top: they may import any stage, but no DAG.
        top = layer == "newsflow" and (within(".".join(path.relative_to(ROOT).parts[:2]), "newsflow.ops") or path == ENTRY_POINT)
        for name in imports(path):
            reaches_up = within(name, "newsflow.ops") and layer != "dags"
            outside = not any(within(name, allowed) for allowed in ALLOWED[layer])
            if within(name, "dags") or (not top and (reaches_up or outside)):
                found.append(f"{path.relative_to(ROOT)} imports {name}")
    return found


@pytest.mark.parametrize("layer", list(ALLOWED))
def test_each_layer_imports_only_what_it_stands_on(layer):
    assert violations(layer) == []


def test_the_check_finds_a_stage_reaching_into_another(tmp_path, monkeypatch):
    stage = tmp_path / "search"
    stage.mkdir()
    (stage / "bad.py").write_text("from transform.normalize import normalize\nfrom newsflow.ops import cli\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert violations("search") == ["search/bad.py imports transform.normalize", "search/bad.py imports newsflow.ops"]


def test_the_check_finds_an_import_of_a_dag(tmp_path, monkeypatch):
    for layer in ("newsflow/ops", "dags"):
        (tmp_path / layer).mkdir(parents=True)
        (tmp_path / layer / "uses_a_dag.py").write_text(
            "from dags.news_ingest import news_ingest\nfrom newsflow.ops import dags\n"
        )
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert violations("newsflow") == ["newsflow/ops/uses_a_dag.py imports dags.news_ingest"]
    assert violations("dags") == ["dags/uses_a_dag.py imports dags.news_ingest"]  # newsflow.ops: allowed
