"""Where the benches find their real pages: bench/extraction-benchmark/, inside the repository.

The dev half of the public article-extraction benchmark (its README.md says what it holds), so
every bench runs from a plain clone.
"""

from pathlib import Path

BENCHMARK = Path(__file__).resolve().parent / "extraction-benchmark"
