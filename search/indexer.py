"""`newsflow worker index`: news.articles into the `news` index, each article once, newest version kept.

`Indexer.index_batch(records)`, the handler of the index worker's consumer loop, goes through these steps:

1. Read each record as a `NormalizedArticle`; one that is not is to be dead-lettered.
2. Find each article's story: the earliest article (by publication, then first sight) sharing a
   near-duplicate band key with it, in the index (one search for all the batch's keys) or among
   the articles this indexer handled lately (the index shows them only after its next refresh);
   that is its `duplicate_of`.
3. Bulk-index with `_id` = article id and external version = content time: a replayed or
   late older version, or the same record twice, meets a version conflict, which is success.
4. An article that predates the story it joins (its original, crawled after a copy) becomes
   the story's first: the former first article is marked its duplicate.
5. Dead-letter what Elasticsearch refused for good (mapping and parse errors) and the unreadable
   records, once the whole batch is settled.

When Elasticsearch cannot take the batch now (no connection, timeouts, 429, 5xx, or a block on the
index: `index.blocks.write`, `read_only`, `read_only_allow_delete` after a full disk; for the whole
request or some of its documents) the batch raises `Backpressure`, with pauses growing up to
NEWSFLOW_INDEX_RETRY_MAX_SECONDS: the loop hands it over again later, as long as it takes, and the
documents already indexed meet a version conflict. The loop commits the batch's offsets after it is
settled: every article is indexed or dead-lettered, and nothing is dead-lettered for a block.
"""

import logging
import signal
from collections import OrderedDict
from datetime import UTC, datetime
from typing import Any

from elastic_transport import ConnectionError as TransportConnectionError
from elastic_transport import ConnectionTimeout
from elasticsearch import ApiError, Elasticsearch
from kafka.consumer.fetcher import ConsumerRecord

from newsflow.clients import elasticsearch_client, kafka_consumer
from newsflow.consumer import ConsumerLoop
from newsflow.deadletters import read_record, reject
from newsflow.errors import Backpressure, Reason, Rejected
from newsflow.publisher import Publisher
from newsflow.settings import Settings
from newsflow.shutdown import Shutdown
from search.index import create_index, document, version
from transform.contract import NormalizedArticle

log = logging.getLogger(__name__)

TRANSIENT_STATUSES = {429, 500, 502, 503, 504}
# The error of every block, whatever its status (403 for a write or read-only block, 429 for a full
# disk): an operator or Elasticsearch itself lifts it, and the same request then succeeds.
BLOCKED = "cluster_block_exception"
# The order of _order, in Elasticsearch: articles without a publication date come last.
STORY_ORDER = [{"published_at": {"order": "asc", "missing": "_last"}}, {"first_seen_at": "asc"}, {"article_id": "asc"}]
LATEST = datetime.max.replace(tzinfo=UTC)
STORY_SEARCH_ARTICLES = 1000  # articles whose band keys one search looks up: 16,000 terms, under the 65,536 limit
STORY_HITS = 10_000  # Elasticsearch's largest page
RECENT_KEYS = 200_000  # band keys remembered across batches (16 per article: the last 12,500 articles)


class Indexer:
    def __init__(self, settings: Settings, es: Elasticsearch, publisher: Publisher) -> None:
        self.settings = settings
        self.es = es
        self.publisher = publisher
        self._pause = 0.0  # seconds of the last Backpressure; 0 once Elasticsearch takes a batch
        self._index_exists = False
        self._recent: OrderedDict[str, tuple[tuple[datetime, datetime, str], str]] = OrderedDict()  # band key → (order, story)
        # What the batch being settled would remember: kept apart until the batch is settled, so
        # that a batch handed over again after Backpressure meets the memory it first met.
        self._learned: dict[str, tuple[tuple[datetime, datetime, str], str]] = {}

    def index_batch(self, records: list[ConsumerRecord]) -> dict[str, int]:
        """Index or dead-letter every record (tombstones are skipped); return counts by outcome."""
        try:
            counts = self._settle(records)
        except (TransportConnectionError, ConnectionTimeout) as exc:
            raise self._backpressure(type(exc).__name__) from None
        except ApiError as exc:
            if not _refused_for_now(exc.meta.status, exc.message):
                raise
            raise self._backpressure(f"HTTP {exc.meta.status} {exc.message}") from None
        self._pause = 0.0
        return counts

    def _settle(self, records: list[ConsumerRecord]) -> dict[str, int]:
        self._learned = {}
        rejected: list[tuple[ConsumerRecord, NormalizedArticle | None, Rejected]] = []
        articles: dict[str, tuple[ConsumerRecord, NormalizedArticle]] = {}
        refused: dict[str, str] = {}
        for record in records:
            if record.value is None:
                continue  # a tombstone: nothing to index
            try:
                article = read_record(NormalizedArticle, record.value)
            except Rejected as error:
                rejected.append((record, None, error))
                continue
            articles[article.article_id] = (record, article)  # a later record of the same article wins
        if articles:
            if not self._index_exists:
                create_index(self.es, self.settings)
                self._index_exists = True
            stories, predated = self._stories([article for _, article in articles.values()])
            indexed_at = datetime.now(UTC)
            refused = self._bulk(
                {
                    article_id: (version(article), document(article, stories.get(article_id), indexed_at))
                    for article_id, (_, article) in articles.items()
                }
            )
            rejected += [(*articles[article_id], Rejected(Reason.REJECTED, error)) for article_id, error in refused.items()]
            if predated:
                self._join_stories(predated)
        for record, refused_article, refusal in rejected:
            reject(self.publisher, self.settings, "index", record, refusal, refused_article)
        for key, (order, story) in self._learned.items():
            self._remember(key, order, story)
        return {"indexed": len(articles) - len(refused), "dead_lettered": len(rejected)}

    def _backpressure(self, problem: str) -> Backpressure:
        """Pauses growing from 0.5 s to NEWSFLOW_INDEX_RETRY_MAX_SECONDS while Elasticsearch is away."""
        self._pause = min(self._pause * 2, self.settings.index_retry_max_seconds) if self._pause else 0.5
        return Backpressure(self._pause, f"index: Elasticsearch unavailable ({problem})")

    def _stories(self, batch: list[NormalizedArticle]) -> tuple[dict[str, str], dict[str, str]]:
        """Each article's story: the id of the earliest article sharing a band key with it, for
        the articles that have an earlier one; and the stories that a batch article predates:
        their first article's id → that batch article's id (the original, crawled late)."""
        earliest = self._earliest_by_key(batch)
        stories, predated = {}, {}
        # Earliest first, so that each article meets the earlier ones of the batch before itself.
        for article in sorted(batch, key=_order):
            own = _order(article)
            candidates = [entry for key in article.near_duplicate_keys for entry in earliest.get(key, ())]
            candidates += [self._recent[key] for key in article.near_duplicate_keys if key in self._recent]
            candidates += [self._learned[key] for key in article.near_duplicate_keys if key in self._learned]
            candidates = [(order, story) for order, story in candidates if article.article_id not in (order[2], story)]
            if candidates and min(candidates)[0] < own:
                stories[article.article_id] = min(candidates)[1]
            elif candidates:
                first = min(candidates)[1]
                predated[first] = article.article_id
            for key in article.near_duplicate_keys:  # the earliest article per key, for the batches to come
                if key not in self._learned or own < self._learned[key][0]:
                    self._learned[key] = (own, stories.get(article.article_id, article.article_id))
        return stories, predated

    def _earliest_by_key(self, batch: list[NormalizedArticle]) -> dict[str, list[tuple[tuple, str]]]:
        """For each band key of the batch, the two earliest indexed articles carrying it (two, so
        that one remains when the first is the batch's article itself): (order, story).

        One search per STORY_SEARCH_ARTICLES articles, for all their keys at once, earliest first;
        a key whose articles all come after the first STORY_HITS hits is missed (then only the
        recent stories can give it one)."""
        searches: list[dict[str, Any]] = []
        for start in range(0, len(batch), STORY_SEARCH_ARTICLES):
            keys = sorted(
                {key for article in batch[start : start + STORY_SEARCH_ARTICLES] for key in article.near_duplicate_keys}
            )
            searches += [
                {"index": self.settings.index_alias},
                {
                    "size": STORY_HITS,
                    "query": {"terms": {"near_duplicate_keys": keys}},
                    "sort": STORY_ORDER,
                    "_source": ["article_id", "published_at", "first_seen_at", "duplicate_of", "near_duplicate_keys"],
                },
            ]
        earliest: dict[str, list[tuple[tuple, str]]] = {}
        for response in self.es.msearch(searches=searches)["responses"]:
            if "error" in response and _refused_for_now(response["status"], response["error"].get("type")):
                raise self._backpressure(f"story search refused for now: {_described(response)}")
            for hit in response.get("hits", {}).get("hits", []):
                entry = (_order_of_hit(hit["_source"]), hit["_source"].get("duplicate_of") or hit["_id"])
                for key in hit["_source"]["near_duplicate_keys"]:
                    firsts = earliest.setdefault(key, [])
                    if len(firsts) < 2 and entry not in firsts:
                        firsts.append(entry)
        return earliest

    def _remember(self, key: str, order: tuple[datetime, datetime, str], story: str) -> None:
        """Keep the earliest article seen per band key: the index shows new documents only
        after its next refresh (1 s), and the next batch must not miss them."""
        if key not in self._recent or order < self._recent[key][0]:
            self._recent[key] = (order, story)
            self._recent.move_to_end(key)
        while len(self._recent) > RECENT_KEYS:
            self._recent.popitem(last=False)

    def _bulk(self, documents: dict[str, tuple[int, dict]]) -> dict[str, str]:
        """Index the documents (id → (version, document)); return those refused for good: id → why.
        `Backpressure` when Elasticsearch refused some for now."""
        operations: list[dict] = []
        for article_id, (external_version, body) in documents.items():
            operations += [
                {
                    "index": {
                        "_index": self.settings.index_alias,
                        "_id": article_id,
                        "version": external_version,
                        "version_type": "external",
                    }
                },
                body,
            ]
        refused, for_now = {}, []
        for item in self.es.bulk(operations=operations)["items"]:
            result = item["index"]
            status = result["status"]
            if status < 300 or status == 409:  # 409: this version or a newer one is already there
                continue
            if _refused_for_now(status, result.get("error", {}).get("type")):
                for_now.append(_described(result))
            else:
                refused[result["_id"]] = _described(result)
        if for_now:
            raise self._backpressure(f"{len(for_now)} of {len(documents)} documents refused for now, first: {for_now[0]}")
        return refused

    def _join_stories(self, predated: dict[str, str]) -> None:
        """Mark each story's former first article a duplicate of the original that predates it.

        A partial update: Elasticsearch adds one to the external version, so a re-delivery of the
        former first article still meets a conflict, and a newer version of it finds the original."""
        operations = []
        for former, original in predated.items():
            operations += [{"update": {"_index": self.settings.index_alias, "_id": former}}, {"doc": {"duplicate_of": original}}]
        for item in self.es.bulk(operations=operations)["items"]:
            result = item["update"]
            if _refused_for_now(result["status"], result.get("error", {}).get("type")):
                raise self._backpressure(f"story updates refused for now, first: {_described(result)}")


def _refused_for_now(status: int, error_type: str | None) -> bool:
    """Whether Elasticsearch would take the same request later: it is overloaded or unavailable, or
    the index is blocked; never the document's fault."""
    return status in TRANSIENT_STATUSES or error_type == BLOCKED


def _described(answer: dict) -> str:
    """A failed bulk item or search, for people: its status and error."""
    error = answer.get("error", {})
    return f"{answer['status']} {error.get('type')}: {error.get('reason')}"


def _order(article: NormalizedArticle) -> tuple[datetime, datetime, str]:
    """Which article of a story came first: the earliest published (a copy is published after
    its original, whatever order we crawl them in); then the first seen; then the id."""
    return (article.published_at.value if article.published_at else LATEST, article.first_seen_at, article.article_id)


def _order_of_hit(source: dict) -> tuple[datetime, datetime, str]:
    published = source.get("published_at")
    return (
        datetime.fromisoformat(published) if published else LATEST,
        datetime.fromisoformat(source["first_seen_at"]),
        source["article_id"],
    )


def run(settings: Settings) -> None:
    """Consume news.articles until SIGTERM or SIGINT; each batch indexed, then committed."""
    shutdown = Shutdown(signal.SIGTERM, signal.SIGINT)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s index %(levelname)s %(message)s")
    # The indexer's back-pressure pauses keep its group membership: a client that also retried
    # would hold a batch through up to four request timeouts while a node restarts.
    es = elasticsearch_client(settings, max_retries=0)
    publisher = Publisher(settings)
    indexer = Indexer(settings, es, publisher)

    def handle(batch: list[ConsumerRecord]) -> None:
        log.info("index: %s", indexer.index_batch(batch))

    # Under a steady trickle the broker would answer each poll with one article, and each article
    # would cost a story search, a bulk request and a commit: let it gather up to 64 KiB for 200 ms.
    consumer = kafka_consumer(
        settings,
        settings.index_group,
        settings.topic_articles,
        max_poll_records=settings.index_batch_size,
        fetch_min_bytes=64 * 1024,
        fetch_max_wait_ms=200,
    )
    try:
        ConsumerLoop(consumer, publisher, handle, lambda: shutdown.requested).run()
    finally:
        es.close()
