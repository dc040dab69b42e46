"""Article-body extraction quality and speed on every labelled corpus of the repository, newsflow
beside the bare extractors, in one run.

For each corpus (bench/corpus.py: the dev half of the extraction benchmark, and the pages
collected from other publishers and languages) and each extractor — newsflow's
transform.extraction, trafilatura with its defaults and with favor_precision, readability-lxml —
it prints:

- P, R and F1, scored as the benchmark's README describes, with tokens of any script
  (newsflow.text.tokens of the NFC text: words, and single characters of Chinese, Japanese, Thai): runs of 4
  tokens (shingles) matched as multisets; per page precision tp/(tp+fp) and recall tp/(tp+fn)
  (1 when both texts are empty); P and R are the means over pages, F1 = 2PR/(P+R);
- F1 on each half of the pages (A and B: the parity of the first byte of the SHA-256 of the page
  id, which does not move when pages are added), so a change tuned on one half is checked on the other;
- "empty": the pages it extracts nothing from; "lost": those among them where trafilatura's
  defaults extract something;
- the median CPU time per page (one core; CPU time, so that other work on the machine weighs
  little), and its ratio to trafilatura's defaults.

newsflow's time is its whole `extract` (title, authors, dates too); the others' is the body alone.

    .venv/bin/python bench/extraction.py [--json]

With --json, the last line is one JSON object: `precision`, `recall`, `f1`, `f1_half_a`, `f1_half_b`, `empty`,
`lost`, `ms_per_page` and `ms_vs_trafilatura`, each by corpus (`benchmark`, `collected`) and extractor
(`newsflow`, `trafilatura`, `trafilatura_precision`, `readability`); `pages` by corpus.
"""

import hashlib
import logging
import statistics
import sys
import time
import unicodedata
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lxml.html
import trafilatura
from readability import Document
from readability.readability import Unparseable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.corpus import BENCHMARK, COLLECTED, LabelledPage, labelled_pages  # noqa: E402
from bench.report import json_arguments, print_json  # noqa: E402
from newsflow.text import tokens  # noqa: E402
from transform.extraction import extract  # noqa: E402

SHINGLE = 4
logging.getLogger("readability.readability").setLevel(logging.CRITICAL)  # it logs a traceback for each page it cannot read
TRAFILATURA = "trafilatura, defaults"


def readability_text(html: str) -> str:
    try:
        summary = Document(html).summary(html_partial=True)
    except (Unparseable, ValueError):  # a page it cannot read (control characters in a link): nothing extracted
        return ""
    return "\n".join(lxml.html.fromstring(summary).itertext()) if summary.strip() else ""


EXTRACTORS: dict[str, Callable[[str, str], str]] = {
    "newsflow (transform.extraction)": lambda html, url: extract(html, url).body,
    TRAFILATURA: lambda html, url: trafilatura.extract(html, url=url) or "",
    "trafilatura, favor_precision": lambda html, url: trafilatura.extract(html, url=url, favor_precision=True) or "",
    "readability-lxml": lambda html, url: readability_text(html),
}
KEYS = {  # each extractor's name in the JSON figures
    "newsflow (transform.extraction)": "newsflow",
    TRAFILATURA: "trafilatura",
    "trafilatura, favor_precision": "trafilatura_precision",
    "readability-lxml": "readability",
}
CORPORA = {BENCHMARK: "benchmark", COLLECTED: "collected"}


def shingles(text: str) -> Counter:
    found = tokens(unicodedata.normalize("NFC", text))  # "ü" as one letter or as u and a mark: one token
    if len(found) < SHINGLE:
        return Counter([tuple(found)]) if found else Counter()
    return Counter(tuple(found[i : i + SHINGLE]) for i in range(len(found) - SHINGLE + 1))


def score(predicted: str, truth: str) -> tuple[float, float]:
    pred, true = shingles(predicted), shingles(truth)
    if not pred and not true:
        return 1.0, 1.0
    tp = sum((pred & true).values())
    fp, fn = sum(pred.values()) - tp, sum(true.values()) - tp
    return (tp / (tp + fp) if tp + fp else 0.0), (tp / (tp + fn) if tp + fn else 0.0)


def f1(scores: list[tuple[float, float]]) -> tuple[float, float, float]:
    p, r = statistics.mean(s[0] for s in scores), statistics.mean(s[1] for s in scores)
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def half(page_id: str) -> str:
    return "AB"[hashlib.sha256(page_id.encode()).digest()[0] % 2]


def run(pages: list[LabelledPage]) -> dict[str, tuple[list[str], list[float]]]:
    """Each extractor's bodies and times per page. The extractors take turns on each page, so that
    the load of the machine weighs on all of them alike, each page starting with the next one: the
    libraries' caches (trafilatura's and lxml's), warmed by whoever reads a page first, favour none."""
    results: dict[str, tuple[list[str], list[float]]] = {name: ([], []) for name in EXTRACTORS}
    names = list(EXTRACTORS)
    for number, page in enumerate(pages):
        for name in names[number % len(names) :] + names[: number % len(names)]:
            extractor = EXTRACTORS[name]
            started = time.process_time()
            results[name][0].append(extractor(page.html, page.url))
            results[name][1].append(time.process_time() - started)
    return results


def report(corpus: Path) -> dict[str, Any]:
    """Prints the corpus's table; returns its figures, each by extractor (and its number of pages)."""
    pages = labelled_pages(corpus)
    halves = [half(page.page_id) for page in pages]
    print(f"\n{corpus.name}: {len(pages)} pages (half A {halves.count('A')}, half B {halves.count('B')})")
    print(f"{'extractor':<34}{'P':>7}{'R':>7}{'F1':>7}{'F1 A':>7}{'F1 B':>7}{'empty':>7}{'lost':>6}{'ms/page':>9}{'× traf.':>9}")
    results = run(pages)
    reference_bodies, reference_times = results[TRAFILATURA]
    figures: dict[str, Any] = {"pages": len(pages)}
    for name, (bodies, times) in results.items():
        scores = [score(body, page.body) for body, page in zip(bodies, pages, strict=True)]
        by_half = [f1([s for s, h in zip(scores, halves, strict=True) if h == which])[2] for which in "AB"]
        empty = [not body.strip() for body in bodies]
        lost = sum(1 for nothing, reference in zip(empty, reference_bodies, strict=True) if nothing and reference.strip())
        ms = statistics.median(times) * 1000
        ratio = ms / (statistics.median(reference_times) * 1000)
        p, r, f = f1(scores)
        print(
            f"{name:<34}{p:>7.3f}{r:>7.3f}{f:>7.3f}{by_half[0]:>7.3f}{by_half[1]:>7.3f}{sum(empty):>7}{lost:>6}{ms:>9.1f}{ratio:>9.2f}"
        )
        for key, value in (
            ("precision", p),
            ("recall", r),
            ("f1", f),
            ("f1_half_a", by_half[0]),
            ("f1_half_b", by_half[1]),
            ("empty", sum(empty)),
            ("lost", lost),
            ("ms_per_page", ms),
            ("ms_vs_trafilatura", ratio),
        ):
            figures.setdefault(key, {})[KEYS[name]] = value
    return figures


def main() -> None:
    args = json_arguments(__doc__)
    print(" ".join(__doc__.split("\n\n")[0].split()))
    figures: dict[str, dict[str, Any]] = {}
    for corpus in (BENCHMARK, COLLECTED):
        for key, value in report(corpus).items():
            figures.setdefault(key, {})[CORPORA[corpus]] = value
    print_json(args, figures)


if __name__ == "__main__":
    main()
