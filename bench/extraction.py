"""Article-body extraction quality on bench/extraction-benchmark, beside bare trafilatura, in one run.

Scored as the benchmark's README describes: \\w+ tokens, runs of 4 tokens (shingles) matched as
multisets; per page precision tp/(tp+fp) and recall tp/(tp+fn) (1 when both texts are empty);
P and R are the means over pages, F1 = 2PR/(P+R). Time is the median per page, one core.

The trafilatura rows: its defaults; "repo-style", the call scrapinghub/article-extraction-benchmark
makes (extractors/run_trafilatura.py: include_comments=False, no URL); precision without comments,
the settings transform.extraction starts from.

    .venv/bin/python bench/extraction.py            # one table
    .venv/bin/python bench/extraction.py --split    # and F1 on each half (pages at even / odd sorted
                                                    # positions), to see that a change holds on both
"""

import argparse
import gzip
import json
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import trafilatura

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.corpus import BENCHMARK  # noqa: E402
from transform.extraction import extract  # noqa: E402

TOKEN = re.compile(r"\w+")

EXTRACTORS: dict[str, Callable[[str, str], str]] = {
    "newsflow (transform.extraction)": lambda html, url: extract(html, url).body,
    "trafilatura, defaults": lambda html, url: trafilatura.extract(html, url=url) or "",
    "trafilatura, repo-style (no comments)": lambda html, url: trafilatura.extract(html, include_comments=False) or "",
    "trafilatura, precision, no comments": lambda html, url: (
        trafilatura.extract(html, url=url, favor_precision=True, include_comments=False) or ""
    ),
}


def shingles(text: str) -> Counter:
    tokens = TOKEN.findall(text)
    if len(tokens) < 4:
        return Counter([tuple(tokens)]) if tokens else Counter()
    return Counter(tuple(tokens[i : i + 4]) for i in range(len(tokens) - 3))


def score(predicted: str, truth: str) -> tuple[float, float]:
    pred, true = shingles(predicted), shingles(truth)
    if not pred and not true:
        return 1.0, 1.0
    tp = sum((pred & true).values())
    fp, fn = sum(pred.values()) - tp, sum(true.values()) - tp
    return (tp / (tp + fp) if tp + fp else 0.0), (tp / (tp + fn) if tp + fn else 0.0)


def f1(scores: list[tuple[float, float]]) -> tuple[float, float, float]:
    p, r = statistics.mean(s[0] for s in scores), statistics.mean(s[1] for s in scores)
    return p, r, 2 * p * r / (p + r)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--split", action="store_true", help="add F1 on the even and odd halves of the pages")
    split = parser.parse_args().split
    truth = json.loads((BENCHMARK / "ground-truth.json").read_text())
    pages = {
        page_id: gzip.decompress((BENCHMARK / "html" / f"{page_id}.html.gz").read_bytes()).decode("utf-8", "replace")
        for page_id in sorted(truth)
    }
    print(f"{len(pages)} pages of {BENCHMARK}")
    print(f"{'extractor':<40}{'P':>7}{'R':>7}{'F1':>7}{'ms/page':>9}" + (f"{'F1 even':>9}{'F1 odd':>8}" if split else ""))
    for name, run in EXTRACTORS.items():
        scores, times = [], []
        for page_id, html in pages.items():
            started = time.perf_counter()
            body = run(html, truth[page_id]["url"])
            times.append(time.perf_counter() - started)
            scores.append(score(body, truth[page_id]["articleBody"]))
        p, r, f = f1(scores)
        halves = f"{f1(scores[0::2])[2]:>9.3f}{f1(scores[1::2])[2]:>8.3f}" if split else ""
        print(f"{name:<40}{p:>7.3f}{r:>7.3f}{f:>7.3f}{statistics.median(times) * 1000:>9.1f}" + halves)


if __name__ == "__main__":
    main()
