"""The suite and the benches read nothing outside the repository, so they run from a plain clone.

1. No file under bench/ or tests/ names a folder beside the checkout (the developer-only
   developer-only folder the benches used to read their pages from).
2. The benches' corpus lies inside the repository, complete: every page of its ground truth,
   with its LICENSE beside them.
3. The collected corpus too: every labelled page, each with its origin and a licence file.
"""

import json
import re
from pathlib import Path

import pytest

from bench.corpus import BENCHMARK, COLLECTED

REPO = Path(__file__).parents[2]


def scanned() -> list[Path]:
    """The text files under bench/ and tests/ (the corpus's gzipped pages are data, not paths)."""
    return sorted(
        path
        for folder in ("bench", "tests")
        for path in (REPO / folder).rglob("*")
        if path.is_file()
        and path.suffix in {".py", ".md", ".json"}
        and "__pycache__" not in path.parts
        and path != Path(__file__)
    )  # this file spells out what it looks for


# The developers' folder beside the checkout, named indirectly so that this file is not itself a hit
# of the project's own search for such paths.
BESIDE = "sha" + "red"
# "../<BESIDE>/..." or `ROOT.parent / "<BESIDE>"`
OUTSIDE = re.compile(rf"\.\.[/\\]{BESIDE}\b|/\s*[\"']{BESIDE}\b")


@pytest.mark.parametrize(
    "line",
    [
        f'BENCHMARK = ROOT.parent / "{BESIDE}" / "extraction-benchmark"',
        f'BENCHMARK = Path(__file__).resolve().parents[2] / "{BESIDE}" / "extraction-benchmark"',
        f".venv/bin/newsflow extract ../{BESIDE}/extraction-benchmark/html --json",
    ],
)
def test_the_check_catches_a_path_beside_the_checkout(line):
    assert OUTSIDE.search(line)


def test_no_bench_or_test_reads_outside_the_repository():
    assert scanned(), "nothing scanned: the check would pass vacuously"
    offenders = [
        f"{path.relative_to(REPO)}:{number}: {line.strip()}"
        for path in scanned()
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if OUTSIDE.search(line)
    ]
    assert offenders == []


def test_the_corpus_is_inside_the_repository_with_its_licence_beside_its_files():
    assert BENCHMARK.is_relative_to(REPO.resolve())
    assert "MIT License" in (BENCHMARK / "LICENSE").read_text()
    truth = json.loads((BENCHMARK / "ground-truth.json").read_text())
    assert sorted(path.name for path in (BENCHMARK / "html").iterdir()) == sorted(f"{page}.html.gz" for page in truth)


def test_the_collected_corpus_is_complete_with_its_origins_and_licences():
    labels = json.loads((COLLECTED / "labels.json").read_text())
    assert len(labels) >= 60
    assert sorted(path.name for path in (COLLECTED / "html").iterdir()) == sorted(f"{page}.html.gz" for page in labels)
    licences = {path.name for path in (COLLECTED / "LICENSES").iterdir()}
    for label in labels.values():
        assert label["origin"]["repository"] and len(label["origin"]["commit"]) == 40 and label["articleBody"]
        assert any(name.split("-", 1)[1].startswith(label["licence"]) for name in licences)
