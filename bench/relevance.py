"""Search relevance: newsflow's index and query against a standard-analyzer baseline, on labelled queries, in one run.

The corpus is what transform makes of three sets of pages, each normalized once:

- the demo's sample news (newsflow/ops/demo/articles.yaml with the seed article; the syndicated
  copy, which search hides as a duplicate, and the broken page left out): English, Russian, Kazakh;
- bench/relevance/articles.yaml: articles in Russian, Kazakh and English written for this bench,
  naming people and places in the spellings of each language;
- the pages of bench/extraction-benchmark: news and blogs, mostly English.

The queries are bench/relevance/queries.yaml: each names its relevant articles, graded 2 (about
it) or 1 (mentions it), grouped by kind (English inflections, Russian and Kazakh forms, names
across scripts, names with words, phrases, plain words). Needs the local Elasticsearch
(`make services-up`):

    .venv/bin/python bench/relevance.py [--misses] [--json]

Steps:

1. Normalize the pages with `transform.normalize` and make their documents with
   `search.index.document`.
2. Index them twice, into fresh indices: newsflow's (`search.index.create_index`, the current
   template) and the baseline's (`bench.baseline.standard_template`: the version-1 mapping, every
   text field on the standard analyzer).
3. Send each query to both as the API does (`search.query.search_body`: the same request, the
   first page of 10) and score the page: recall@10 = relevant articles in it / min(relevant, 10);
   nDCG@10 with the grades as gains and log2(rank + 1) discounts, over the ideal order of all the
   relevant articles. Means per kind and over all queries, both indices side by side.
4. Delete both indices and their templates, even on failure. `--misses` lists, per query, the
   relevant articles missing from newsflow's first page and what ranked above them.

With --json, the last line is one JSON object: `recall_at_10` and `ndcg_at_10` by kind of query (and `all`)
and side (`newsflow`, `baseline`), `queries` by kind, and the counts `articles`, `refused`.
"""

import argparse
import gzip
import json
import math
import statistics
import sys
import uuid
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from elasticsearch import helpers  # noqa: E402

from bench.baseline import delete_alias, standard_index  # noqa: E402
from bench.corpus import BENCHMARK, raw_page  # noqa: E402
from bench.report import json_flag, print_json  # noqa: E402
from newsflow.clients import elasticsearch_client  # noqa: E402
from newsflow.errors import Rejected  # noqa: E402
from newsflow.ops.demo.site import Publisher, SampleSite, article_page  # noqa: E402
from newsflow.settings import Settings, load_settings  # noqa: E402
from newsflow.urls import article_id  # noqa: E402
from search.index import create_index, document  # noqa: E402
from search.query import SearchRequest, search_body  # noqa: E402
from transform.contract import NormalizedArticle  # noqa: E402
from transform.normalize import normalize  # noqa: E402

HERE = Path(__file__).resolve().parent / "relevance"
PAGE = 10  # the first page of results, as the API returns it by default
WRITTEN = Publisher(id="bench", name="Relevance Bench", feed="rss", language="en", home_note="", aside="Read also")


def pages() -> dict[str, tuple[str, str, str]]:
    """Every page of the corpus by the name the queries use: (URL, HTML, source)."""
    named: dict[str, tuple[str, str, str]] = {}
    with SampleSite(0) as site:
        for sample in site.news.articles:
            if sample.copy_of is None and not sample.broken:
                path = site.path(sample)
                named[f"demo:{sample.publisher}/{sample.slug}"] = (
                    f"https://{sample.publisher}.example{path}",
                    site.routes[path].body.decode(),
                    sample.publisher,
                )
    for written in yaml.safe_load((HERE / "articles.yaml").read_text(encoding="utf-8"))["articles"]:
        page = article_page(written["title"], written["paragraphs"], publisher=WRITTEN, language=written["language"])
        named[f"extra:{written['id']}"] = (f"https://bench.example/{written['id']}", page.decode(), WRITTEN.id)
    for page_id, truth in json.loads((BENCHMARK / "ground-truth.json").read_text()).items():
        html = gzip.decompress((BENCHMARK / "html" / f"{page_id}.html.gz").read_bytes()).decode("utf-8", "replace")
        named[truth["url"]] = (truth["url"], html, "extraction-benchmark")
    return named


def corpus(min_words: int) -> tuple[dict[str, NormalizedArticle], list[str]]:
    """The normalized articles by name, and the names of the pages transform refused."""
    now = datetime.now(UTC)
    articles, refused = {}, []
    for name, (url, html, source) in pages().items():
        raw = raw_page(article_id(url), source, url, html, now)
        try:
            articles[name] = normalize(raw, now, min_words)
        except Rejected:
            refused.append(name)
    return articles, refused


def index(es, settings: Settings, articles: dict[str, NormalizedArticle]) -> None:
    now = datetime.now(UTC)
    actions = (
        {"_index": settings.index_alias, "_id": article.article_id, "_source": document(article, None, now)}
        for article in articles.values()
    )
    helpers.bulk(es, actions, refresh="wait_for")


def first_page(es, settings: Settings, query: str) -> list[str]:
    """The article ids of the first page of `query`, as the API would answer it."""
    body = search_body(SearchRequest(q=query, size=PAGE))
    return [hit["_id"] for hit in es.search(index=settings.index_alias, **body)["hits"]["hits"]]


def recall(ranked: list[str], relevant: dict[str, int]) -> float:
    return len(set(ranked[:PAGE]) & relevant.keys()) / min(len(relevant), PAGE)


def ndcg(ranked: list[str], relevant: dict[str, int]) -> float:
    gained = sum(relevant.get(hit, 0) / math.log2(rank + 2) for rank, hit in enumerate(ranked[:PAGE]))
    ideal = sum(grade / math.log2(rank + 2) for rank, grade in enumerate(sorted(relevant.values(), reverse=True)[:PAGE]))
    return gained / ideal


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--misses", action="store_true", help="list the relevant articles newsflow's first page misses")
    json_flag(parser)
    args = parser.parse_args()

    base = load_settings()
    prefix = uuid.uuid4().hex[:8]
    sides = {
        "newsflow": base.model_copy(update={"index_alias": f"bench-relevance-{prefix}"}),
        "baseline": base.model_copy(update={"index_alias": f"bench-relevance-standard-{prefix}"}),
    }
    articles, refused = corpus(base.transform_min_words)
    queries = yaml.safe_load((HERE / "queries.yaml").read_text(encoding="utf-8"))["queries"]
    ids = {name: article.article_id for name, article in articles.items()}
    names = {article_id: name for name, article_id in ids.items()}
    unknown = {name for query in queries for name in query["relevant"] if name not in ids}
    if unknown:
        raise SystemExit(f"queries.yaml names articles the corpus lacks: {sorted(unknown)}")
    es = elasticsearch_client(base)
    scores: dict[str, dict[str, list[tuple[float, float]]]] = {side: defaultdict(list) for side in sides}
    misses = []
    try:
        create_index(es, sides["newsflow"])
        standard_index(es, sides["baseline"])
        for settings in sides.values():
            index(es, settings, articles)
        for query in queries:
            relevant = {ids[name]: grade for name, grade in query["relevant"].items()}
            for side, settings in sides.items():
                ranked = first_page(es, settings, query["query"])
                scores[side][query["kind"]].append((recall(ranked, relevant), ndcg(ranked, relevant)))
                missing = [names[hit] for hit in relevant if hit not in ranked]
                if side == "newsflow" and missing:
                    misses.append((query["query"], missing, [names[hit] for hit in ranked]))
    finally:
        for settings in sides.values():
            delete_alias(es, settings)
        es.close()

    languages = Counter(article.language or "unlabelled" for article in articles.values()).most_common()
    print(
        f"{len(articles)} articles ({', '.join(f'{n} {language}' for language, n in languages)}), "
        f"{len(refused)} pages refused by transform; {len(queries)} queries"
    )
    print(f"{'':<14}{'queries':>8}{'recall@10':>22}{'nDCG@10':>22}")
    print(f"{'kind':<14}{'':>8}{'newsflow':>11}{'baseline':>11}{'newsflow':>11}{'baseline':>11}")
    kinds = list(dict.fromkeys(query["kind"] for query in queries))
    figures: dict[str, Any] = {
        "articles": len(articles),
        "refused": len(refused),
        "queries": {},
        "recall_at_10": {},
        "ndcg_at_10": {},
    }
    for kind in [*kinds, "all"]:
        rows = {side: [score for k in (kinds if kind == "all" else [kind]) for score in scores[side][k]] for side in sides}
        means = {side: (statistics.mean(r for r, _ in rows[side]), statistics.mean(n for _, n in rows[side])) for side in sides}
        print(
            f"{kind:<14}{len(rows['newsflow']):>8}{means['newsflow'][0]:>11.3f}{means['baseline'][0]:>11.3f}"
            f"{means['newsflow'][1]:>11.3f}{means['baseline'][1]:>11.3f}"
        )
        figures["queries"][kind] = len(rows["newsflow"])
        figures["recall_at_10"][kind] = {side: recall for side, (recall, _) in means.items()}
        figures["ndcg_at_10"][kind] = {side: gain for side, (_, gain) in means.items()}
    print("baseline: the version-1 mapping (standard analyzer on title, lead, body), the same query")
    if args.misses:
        for query, missing, ranked in misses:
            print(f"\n{query!r}: missing {missing}\n  first page: {ranked}")
    print_json(args, figures)


if __name__ == "__main__":
    main()
