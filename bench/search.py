"""Search latency through the API (`newsflow api`) against the same requests sent straight to Elasticsearch, in one run.

An index of N synthetic articles (default 100,000) is built from the pages of
bench/extraction-benchmark, each normalized once by transform: article i takes the title of one
page with its number appended and mixes paragraphs of that page with paragraphs of others; one in
a hundred gets a sentence naming Tokayev in one of five spellings (Latin and Cyrillic); one in ten
is a syndicated copy of the article before it (another source, the same near-duplicate keys,
`duplicate_of` set, hidden by default as in real results), and names the entities its page names
(16 on average), which the facets of people, places and organisations count (none with
--without-entities, the search as it was before those facets). Dates spread over two years. Each
document is made by `search.index.document`, with text_folded, content_hash and
near_duplicate_keys computed by transform's own functions, and written with `streaming_bulk`
(chunks of 1,000, generated lazily) into a fresh alias made by `search.index.create_index`;
searches start once the merges the build set off are over (the node serving what a bulk load left,
not busy merging it; the wait is printed).
Needs the local services (`make services-up`):

    .venv/bin/python bench/search.py [--articles 100000] [--repeat 20] [--keep]
    .venv/bin/python bench/search.py --existing bench-search-1a2b3c4d   # an index kept by --keep
    .venv/bin/python bench/search.py --without-entities

A fixed mix of ~20 queries (words, phrases, name variants, operators, a source filter, sort by date,
a date range, a second page by search_after) is sent R times each, after a warm-up:

- API: `newsflow api` (uvicorn serving `search.api.create_app`) in a child process on a free
  127.0.0.1 port, asked with httpx over one keep-alive connection; the answer's JSON is parsed.
- direct: what the API sends Elasticsearch for the same requests, with the official client at its
  defaults, as a program asking Elasticsearch itself would: the body `search.query.search_body`
  builds, then the story sizes of the page's hits (`search.query.story_sizes_body`). The ratio is
  then the API's own cost: FastAPI, reading Elasticsearch's answers (the API's client reads them
  with orjson, the default client with the standard library's json), building the answer, HTTP.

Both are measured from this process, interleaved (each round alternates which goes first). The
figures are p50/p99 of wall-clock latency and the ratios API/direct, from this one run. The
index (and its template) is deleted at the end unless --keep is given. With --json, the last
line is one JSON object: `p50_ratio` and `p99_ratio` (API/direct), `p50_ms` and `p99_ms` (the
API's), `direct_p50_ms`, `direct_p99_ms`, `documents`.
"""

import argparse
import dataclasses
import hashlib
import os
import queue
import random
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from elasticsearch import NotFoundError, helpers  # noqa: E402

from bench.corpus import BENCHMARK  # noqa: E402
from bench.index import normalized_pages  # noqa: E402
from bench.report import json_flag, print_json  # noqa: E402
from newsflow.clients import elasticsearch_client  # noqa: E402
from newsflow.folding import fold  # noqa: E402
from newsflow.settings import Settings, load_settings  # noqa: E402
from search.index import create_index, document, template_name, version  # noqa: E402
from search.query import SearchRequest, encode_cursor, search_body, story_sizes_body  # noqa: E402
from tests.helpers import free_port  # noqa: E402
from transform.contract import DatedBy, NormalizedArticle  # noqa: E402
from transform.signature import content_hash, near_duplicate_keys  # noqa: E402

CHUNK = 1000
WARM_UP = 3  # rounds of the whole mix, for each side, before measuring
END = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)  # the newest article's date; the oldest is two years earlier
SPAN = timedelta(days=730)
NAMES = [  # one article in a hundred names the president, in one of these spellings
    "President Kassym-Jomart Tokayev told the parliament on Monday that the reform would be discussed with experts.",
    "President Kassym-Jomart Toqayev told the parliament on Tuesday that the constitutional reform needs a referendum.",
    "Kazakh President Kassym-Jomart Tokaev met members of parliament in Astana to discuss the budget.",
    "Президент Касым-Жомарт Токаев заявил, что реформа парламента потребует изменений Конституции.",
    "Мемлекет басшысы Қасым-Жомарт Тоқаев парламенттік реформа туралы айтты.",
]


class Corpus:
    """The paragraphs of the normalized benchmark pages, with their folded forms and word counts."""

    def __init__(self, pages: list[NormalizedArticle], entities: bool = True) -> None:
        self.pages = pages
        self.entities = entities
        self.sources = [(urlsplit(page.url).hostname or "").removeprefix("www.").replace(".", "-") for page in pages]
        self.paragraphs = [
            [(text, fold(text), len(text.split())) for text in page.body.split("\n") if text.strip()] for page in pages
        ]
        self.pool = [paragraph for paragraphs in self.paragraphs for paragraph in paragraphs]
        self.names = [(text, fold(text), len(text.split())) for text in NAMES]

    def article(self, i: int, total: int) -> tuple[NormalizedArticle, str | None]:
        """Article i of `total`, and the id of the article it is a copy of (every tenth is one)."""
        if i % 10 == 9:
            original, _ = self.article(i - 1, total)
            source = self.sources[(i * 7 + 3) % len(self.pages)]
            url = f"https://{source}.example/bench/{i}"
            seen = original.first_seen_at + timedelta(hours=2)
            return original.model_copy(
                update={
                    "article_id": hashlib.sha256(url.encode()).hexdigest(),
                    "source_id": source,
                    "url": url,
                    "canonical_url": url,
                    "first_seen_at": seen,
                    "fetched_at": seen,
                }
            ), original.article_id
        rng = random.Random(i)
        p = i % len(self.pages)
        page, source = self.pages[p], self.sources[p]
        own = self.paragraphs[p]
        paragraphs = own[: rng.randint(1, min(3, len(own)))] + rng.choices(self.pool, k=rng.randint(5, 25))
        if i % 100 == 3:
            paragraphs.insert(rng.randint(1, len(paragraphs)), self.names[(i // 100) % len(self.names)])
        title = f"{page.title} {i}"
        body = "\n".join(text for text, _, _ in paragraphs)
        folded_body = " ".join(folded for _, folded, _ in paragraphs)
        published = END - SPAN * (1 - i / total) - timedelta(minutes=rng.randint(0, 600))
        seen = published + timedelta(minutes=rng.randint(1, 90))
        url = f"https://{source}.example/bench/{i}"
        article = NormalizedArticle(
            article_id=hashlib.sha256(url.encode()).hexdigest(),
            source_id=source,
            url=url,
            canonical_url=url,
            site_name=page.site_name,
            title=title,
            authors=page.authors,
            lead=paragraphs[0][0],
            body=body,
            language=page.language,
            entities=page.entities if self.entities else [],  # its page's: the facets count them as on real articles
            word_count=sum(words for _, _, words in paragraphs),
            published_at=DatedBy(value=published, source=rng.choice(["json-ld", "meta"])) if rng.random() > 0.02 else None,
            first_seen_at=seen,
            fetched_at=seen,
            text_folded=f"{fold(title)} {folded_body}",
            content_hash=content_hash(body),
            near_duplicate_keys=near_duplicate_keys(folded_body),
        )
        return article, None


def actions(corpus: Corpus, settings: Settings, total: int):
    now = datetime.now(UTC)
    for i in range(total):
        article, duplicate_of = corpus.article(i, total)
        yield {
            "_op_type": "index",
            "_index": settings.index_alias,
            "_id": article.article_id,
            "version": version(article),
            "version_type": "external",
            "_source": document(article, duplicate_of, now),
        }


def ahead(items, size: int):
    """`items`, made by a thread up to `size` ahead of the reader: generation overlaps the bulk requests."""
    buffer: queue.Queue = queue.Queue(size)
    end = object()

    def fill() -> None:
        try:
            for item in items:
                buffer.put(item)
            buffer.put(end)
        except BaseException as exc:  # noqa: BLE001 - handed to the reader
            buffer.put(exc)

    threading.Thread(target=fill, daemon=True).start()
    while (item := buffer.get()) is not end:
        if isinstance(item, BaseException):
            raise item
        yield item


def build(es, settings: Settings, corpus: Corpus, total: int) -> float:
    """Index `total` articles into a fresh index behind the alias; seconds taken."""
    create_index(es, settings)
    started = time.perf_counter()
    stream = helpers.streaming_bulk(es, ahead(actions(corpus, settings, total), 2 * CHUNK), chunk_size=CHUNK)
    for done, (ok, item) in enumerate(stream, start=1):
        if not ok:
            raise RuntimeError(f"document refused: {item}")
        if done % 20_000 == 0:
            print(f"  indexed {done} of {total} in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    es.indices.refresh(index=settings.index_alias)
    return time.perf_counter() - started


def settle(es, alias: str, limit: float = 600) -> float:
    """Wait, up to `limit` seconds, for the merges the build started to end, then refresh: searches are
    measured on the index a node serves once a bulk load is over, not beside its merges. Seconds waited."""
    started = time.perf_counter()
    while time.perf_counter() - started < limit:
        if es.indices.stats(index=alias, metric="merge")["_all"]["primaries"]["merges"]["current"] == 0:
            break
        time.sleep(1)
    es.indices.refresh(index=alias)
    return time.perf_counter() - started


def queries(corpus: Corpus) -> list[tuple[str, SearchRequest]]:
    """The query mix: (label, request); the second page's cursor is filled in later."""
    source = Counter(corpus.sources).most_common(1)[0][0]
    recent = (END - timedelta(days=90)).date()
    return [
        ("word: president", SearchRequest(q="president")),
        ("word: government", SearchRequest(q="government")),
        ("word: market", SearchRequest(q="market")),
        ("word: technology", SearchRequest(q="technology")),
        ("word: season", SearchRequest(q="season")),
        ("word: energy", SearchRequest(q="energy")),
        ('phrase: "united states"', SearchRequest(q='"united states"')),
        ('phrase: "social media"', SearchRequest(q='"social media"')),
        ('phrase: "electric vehicles"', SearchRequest(q='"electric vehicles"')),
        ("two words: google apple", SearchRequest(q="google apple")),
        ("exclusion: apple -google", SearchRequest(q="apple -google")),
        ("or: twitter | facebook", SearchRequest(q="twitter | facebook")),
        ("name: Tokayev", SearchRequest(q="Tokayev")),
        ("name: Токаев", SearchRequest(q="Токаев")),
        ("name + word: Toqayev parliament", SearchRequest(q="Toqayev parliament")),
        (f"word + source: company, {source}", SearchRequest(q="company", sources=[source])),
        (f"source only: {source}", SearchRequest(sources=[source])),
        ("word, sort=date: president", SearchRequest(q="president", sort="date")),
        ("no words, sort=date", SearchRequest(sort="date")),
        ("word + en + last 90 days: research", SearchRequest(q="research", languages=["en"], published_from=recent)),
        ("page 2 (search_after): president", SearchRequest(q="president", search_after="")),
    ]


def api_params(request: SearchRequest) -> tuple[tuple[str, str], ...]:
    """The query string of the API request equivalent to `request`."""
    params = [("q", request.q)] if request.q is not None else []
    params += [("source", value) for value in request.sources] + [("language", value) for value in request.languages]
    params += [("author", value) for value in request.authors]
    if request.published_from:
        params.append(("from", request.published_from.isoformat()))
    if request.published_to:
        params.append(("to", request.published_to.isoformat()))
    if request.duplicates:
        params.append(("duplicates", "true"))
    params += [("sort", request.sort), ("size", str(request.size))]
    if request.search_after:
        params.append(("search_after", request.search_after))
    return tuple(params)


def start_api(settings: Settings, port: int, log) -> subprocess.Popen:
    env = {**os.environ, "NEWSFLOW_INDEX_ALIAS": settings.index_alias}
    api = subprocess.Popen(
        [sys.executable, "-m", "newsflow", "api", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if api.poll() is not None:
            raise RuntimeError(f"the API exited with {api.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return api
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError("the API did not answer /health within 60 s")


def percentile(samples: list[float], p: int) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[p - 1]


def measure(settings: Settings, port: int, mix: list[tuple[str, SearchRequest]], repeat: int) -> dict:
    es = elasticsearch_client(settings, max_retries=0)  # one try, as the API's client, with the default serializer
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60)
    bodies = [search_body(request) for _, request in mix]
    params = [api_params(request) for _, request in mix]

    def direct(n: int) -> dict:
        """The API's requests: the search, then the story sizes of its hits (`search.api`), in the same order."""
        answer = es.search(index=settings.index_alias, ignore_unavailable=True, allow_no_indices=True, **bodies[n]).body
        story_ids = sorted({hit["_source"]["story_id"] for hit in answer["hits"]["hits"] if hit["_source"].get("story_id")})
        if story_ids:
            es.search(index=settings.index_alias, **story_sizes_body(story_ids))
        return answer

    def api(n: int) -> dict:
        response = client.get("/search", params=params[n])
        response.raise_for_status()
        return response.json()

    # Same answers both ways: the totals and the ids of the page.
    checks = []
    for n in range(len(mix)):
        one, other = api(n), direct(n)
        same = one["total"] == other["hits"]["total"]["value"] and [hit["article_id"] for hit in one["results"]] == [
            hit["_id"] for hit in other["hits"]["hits"]
        ]
        checks.append((one["total"], len(one["results"]), same))
    for _ in range(WARM_UP):
        for n in range(len(mix)):
            api(n)
            direct(n)
    samples: dict[str, list[list[float]]] = {"api": [[] for _ in mix], "direct": [[] for _ in mix]}
    took: list[list[int]] = [[] for _ in mix]
    for round_ in range(repeat):
        for n in range(len(mix)):
            for side in ("api", "direct") if round_ % 2 == 0 else ("direct", "api"):
                started = time.perf_counter()
                answer = api(n) if side == "api" else direct(n)
                samples[side][n].append((time.perf_counter() - started) * 1000)
                if side == "direct":
                    took[n].append(answer["took"])
    client.close()
    es.close()
    return {"samples": samples, "took": took, "checks": checks}


def delete(es, settings: Settings) -> None:
    try:
        indices = list(es.indices.get(index=f"{settings.index_alias}-*"))
        if indices:
            es.indices.delete(index=indices)
        es.indices.delete_index_template(name=template_name(settings))
    except NotFoundError:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=20, help="times each query is sent, each way")
    parser.add_argument("--keep", action="store_true", help="keep the index (its alias is printed)")
    parser.add_argument("--existing", metavar="ALIAS", help="measure an index kept by --keep instead of building one")
    parser.add_argument(
        "--without-entities",
        action="store_true",
        help="articles that name no entities (the search as it was before entity facets: what language analysis costs)",
    )
    json_flag(parser)
    args = parser.parse_args()

    alias = args.existing or f"bench-search-{uuid.uuid4().hex[:8]}"
    settings = load_settings().model_copy(update={"index_alias": alias})
    es = elasticsearch_client(settings, request_timeout=300)
    corpus = Corpus(normalized_pages(settings.transform_min_words), entities=not args.without_entities)
    mix = queries(corpus)
    api = None
    try:
        built = settled = None
        if not args.existing:
            built = build(es, settings, corpus, args.articles)
            settled = settle(es, alias)
        stats = es.indices.stats(index=alias, metric=["docs", "store", "segments"])["_all"]["primaries"]
        # The second page continues the first page of the same query, as a user paging would.
        first_page = es.search(index=alias, **search_body(mix[0][1]))["hits"]["hits"]
        label, request = mix[-1]
        mix[-1] = (label, dataclasses.replace(request, search_after=encode_cursor(first_page[-1]["sort"])))
        port = free_port()
        api = start_api(settings, port, subprocess.DEVNULL)
        result = measure(settings, port, mix, args.repeat)
    finally:
        if api is not None:
            api.terminate()
            api.wait(timeout=30)
        if args.keep or args.existing:
            print(
                f"kept: alias {alias} (delete its indices {alias}-* and template {template_name(settings)} when done)",
                file=sys.stderr,
            )
        else:
            delete(es, settings)
        es.close()

    docs = stats["docs"]["count"]
    print(
        f"index {alias}: {docs} documents, store {stats['store']['size_in_bytes'] / 2**20:.0f} MiB, "
        f"{stats['segments']['count']} segments, 1 shard; built from {len(corpus.pages)} {BENCHMARK.name} pages"
        + (f" in {built:.0f} s ({docs / built:.0f} docs/s, streaming_bulk, chunks of {CHUNK})" if built else "")
        + (f"; its merges over {settled:.0f} s later" if settled is not None else "")
    )
    print(
        f"{len(mix)} queries x {args.repeat} each way, after {WARM_UP} warm-up rounds; {os.cpu_count()} cores shared "
        f"by Elasticsearch, the API and this client; latencies in ms"
    )
    print(f"{'query':<42}{'hits':>8}{'ES took':>9}{'direct':>9}{'API':>9}{'API/direct':>12}")
    samples, took = result["samples"], result["took"]
    for n, (label, _) in enumerate(mix):
        total, _, same = result["checks"][n]
        direct_p50, api_p50 = statistics.median(samples["direct"][n]), statistics.median(samples["api"][n])
        print(
            f"{label[:41]:<42}{total:>8}{statistics.median(took[n]):>9.0f}{direct_p50:>9.1f}{api_p50:>9.1f}"
            f"{api_p50 / direct_p50:>12.2f}" + ("" if same else "  (API and direct answers differ!)")
        )
    every = {side: [value for per_query in samples[side] for value in per_query] for side in samples}
    print(f"{'all queries':<21}{'p50':>9}{'p99':>9}   (p50 per query above; 'ES took' is Elasticsearch's own time, median)")
    for side in ("direct", "api"):
        print(
            f"{'direct to Elasticsearch' if side == 'direct' else 'API (newsflow api)':<21}"
            f"{percentile(every[side], 50):>9.1f}{percentile(every[side], 99):>9.1f}"
        )
    print(
        f"{'API/direct':<21}{percentile(every['api'], 50) / percentile(every['direct'], 50):>9.2f}"
        f"{percentile(every['api'], 99) / percentile(every['direct'], 99):>9.2f}"
    )
    print_json(
        args,
        {
            "p50_ratio": percentile(every["api"], 50) / percentile(every["direct"], 50),
            "p99_ratio": percentile(every["api"], 99) / percentile(every["direct"], 99),
            "p50_ms": percentile(every["api"], 50),
            "p99_ms": percentile(every["api"], 99),
            "direct_p50_ms": percentile(every["direct"], 50),
            "direct_p99_ms": percentile(every["direct"], 99),
            "documents": docs,
        },
    )


if __name__ == "__main__":
    main()
