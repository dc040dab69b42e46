"""`newsflow worker index`: news.articles into the `news` index, each article once, newest version kept.

`Indexer.index_batch(records)` goes through these steps:

1. Read each record as a `NormalizedArticle`; one that is not becomes a dead letter.
2. Find each article's story: the earliest article (by publication, then first sight) sharing a
   near-duplicate band key with it, in the index (one search for all the batch's keys) or among
   the articles this indexer handled lately (the index shows them only after its next refresh);
   that is its `duplicate_of`.
3. Bulk-index with `_id` = article id and external version = content time: a replayed or
   late older version, or the same record twice, meets a version conflict, which is success.
4. Retry what failed for a transient reason (429, 5xx, no connection, timeouts) with growing
   pauses for as long as Elasticsearch needs, consumption paused meanwhile; dead-letter what
   Elasticsearch refused for good (mapping and parse errors).
5. An article that predates the story it joins (its original, crawled after a copy) becomes
   the story's first: the former first article is marked its duplicate.

The worker commits the batch's offsets after that: every article is indexed or dead-lettered.
"""

import logging
import signal
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum

from elastic_transport import ConnectionError as TransportConnectionError
from elastic_transport import ConnectionTimeout
from elasticsearch import ApiError, Elasticsearch
from kafka.consumer.fetcher import ConsumerRecord

from newsflow.checkpoint import Checkpoint
from newsflow.clients import elasticsearch_client, kafka_consumer
from newsflow.deadletters import DeadLetter, UnreadableRecord, read_record
from newsflow.publisher import Publisher
from newsflow.settings import Settings
from newsflow.shutdown import Shutdown
from search.index import create_index, document, version
from transform.contract import NormalizedArticle

log = logging.getLogger(__name__)

TRANSIENT_STATUSES = {429, 500, 502, 503, 504}
# The order of _order, in Elasticsearch: articles without a publication date come last.
STORY_ORDER = [{"published_at": {"order": "asc", "missing": "_last"}}, {"first_seen_at": "asc"}, {"article_id": "asc"}]
LATEST = datetime.max.replace(tzinfo=UTC)
STORY_SEARCH_ARTICLES = 1000  # articles whose band keys one search looks up: 16,000 terms, under the 65,536 limit
STORY_HITS = 10_000  # Elasticsearch's largest page
RECENT_KEYS = 200_000  # band keys remembered across batches (16 per article: the last 12,500 articles)


class Reason(StrEnum):
    """Why a record of news.articles was not indexed: the closed set of the index stage's dead letters."""

    NOT_JSON = "not_json"
    SCHEMA_VIOLATION = "schema_violation"
    REJECTED = "rejected"  # Elasticsearch refused the document (mapping, parse errors)


class Unavailable(Exception):
    """Elasticsearch could not take the request now; the same request may succeed later."""


class Indexer:
    def __init__(self, settings: Settings, es: Elasticsearch, publisher: Publisher,
                 wait: Callable[[float], None] = time.sleep) -> None:
        self.settings = settings
        self.es = es
        self.publisher = publisher
        self.wait = wait  # how to pause between retries: the worker keeps its group membership
        self._recent: OrderedDict[str, tuple[tuple[datetime, datetime, str], str]] = OrderedDict()  # band key → (order, story)

    def index_batch(self, records: list[ConsumerRecord]) -> dict[str, int]:
        """Index or dead-letter every record; return counts by outcome."""
        counts = {"indexed": 0, "dead_lettered": 0}
        articles: dict[str, tuple[ConsumerRecord, NormalizedArticle]] = {}
        for record in records:
            try:
                article = read_record(NormalizedArticle, record.value)
            except UnreadableRecord as exc:
                self._dead_letter(record, None, Reason(exc.reason), str(exc))
                counts["dead_lettered"] += 1
                continue
            articles[article.article_id] = (record, article)  # a later record of the same article wins
        if not articles:
            return counts
        stories, predated = self._retrying(lambda: self._stories([article for _, article in articles.values()]))
        indexed_at = datetime.now(UTC)
        pending = {
            article_id: {"_id": article_id, "version": version(article),
                         "document": document(article, stories.get(article_id), indexed_at)}
            for article_id, (_, article) in articles.items()
        }
        delay = 0.5
        while pending:
            refused = self._retrying(lambda: self._bulk(pending))
            for article_id, error in refused.items():
                if error is None:  # transient: stays pending
                    continue
                record, article = articles[article_id]
                self._dead_letter(record, article, Reason.REJECTED, error)
                counts["dead_lettered"] += 1
                del pending[article_id]
            done = [article_id for article_id in pending if article_id not in refused]
            for article_id in done:
                del pending[article_id]
            counts["indexed"] += len(done)
            if pending:
                log.warning("index: %d documents refused for now; retrying in %.1f s", len(pending), delay)
                self.wait(delay)
                delay = min(delay * 2, self.settings.index_retry_max_seconds)
        if predated:
            self._retrying(lambda: self._join_stories(predated))
        return counts

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
            candidates = [(order, story) for order, story in candidates if article.article_id not in (order[2], story)]
            if candidates and min(candidates)[0] < own:
                stories[article.article_id] = min(candidates)[1]
            elif candidates:
                first = min(candidates)[1]
                predated[first] = article.article_id
            self._remember(article.near_duplicate_keys, own, stories.get(article.article_id, article.article_id))
        return stories, predated

    def _earliest_by_key(self, batch: list[NormalizedArticle]) -> dict[str, list[tuple[tuple, str]]]:
        """For each band key of the batch, the two earliest indexed articles carrying it (two, so
        that one remains when the first is the batch's article itself): (order, story).

        One search per STORY_SEARCH_ARTICLES articles, for all their keys at once, earliest first;
        a key whose articles all come after the first STORY_HITS hits is missed (then only the
        recent stories can give it one)."""
        searches = []
        for start in range(0, len(batch), STORY_SEARCH_ARTICLES):
            keys = sorted({key for article in batch[start:start + STORY_SEARCH_ARTICLES] for key in article.near_duplicate_keys})
            searches += [{"index": self.settings.index_alias}, {
                "size": STORY_HITS, "query": {"terms": {"near_duplicate_keys": keys}}, "sort": STORY_ORDER,
                "_source": ["article_id", "published_at", "first_seen_at", "duplicate_of", "near_duplicate_keys"],
            }]
        earliest: dict[str, list[tuple[tuple, str]]] = {}
        for response in self.es.msearch(searches=searches)["responses"]:
            for hit in response.get("hits", {}).get("hits", []):
                entry = (_order_of_hit(hit["_source"]), hit["_source"].get("duplicate_of") or hit["_id"])
                for key in hit["_source"]["near_duplicate_keys"]:
                    firsts = earliest.setdefault(key, [])
                    if len(firsts) < 2 and entry not in firsts:
                        firsts.append(entry)
        return earliest

    def _remember(self, keys: list[str], order: tuple[datetime, datetime, str], story: str) -> None:
        """Keep the earliest article seen per band key: the index shows new documents only
        after its next refresh (1 s), and the next batch must not miss them."""
        for key in keys:
            if key not in self._recent or order < self._recent[key][0]:
                self._recent[key] = (order, story)
                self._recent.move_to_end(key)
        while len(self._recent) > RECENT_KEYS:
            self._recent.popitem(last=False)

    def _bulk(self, pending: dict[str, dict]) -> dict[str, str | None]:
        """Send the pending documents; return the refused ones: id → reason, or None if transient."""
        operations = []
        for item in pending.values():
            operations += [{"index": {"_index": self.settings.index_alias, "_id": item["_id"],
                                      "version": item["version"], "version_type": "external"}}, item["document"]]
        response = self.es.bulk(operations=operations)
        refused = {}
        for item in response["items"]:
            result = item["index"]
            status = result["status"]
            if status < 300 or status == 409:  # 409: this version or a newer one is already there
                continue
            error = result.get("error", {})
            refused[result["_id"]] = None if status in TRANSIENT_STATUSES else f"{status} {error.get('type')}: {error.get('reason')}"
        return refused

    def _join_stories(self, predated: dict[str, str]) -> None:
        """Mark each story's former first article a duplicate of the original that predates it.

        A partial update: Elasticsearch adds one to the external version, so a re-delivery of the
        former first article still meets a conflict, and a newer version of it finds the original."""
        operations = []
        for former, original in predated.items():
            operations += [{"update": {"_index": self.settings.index_alias, "_id": former}}, {"doc": {"duplicate_of": original}}]
        response = self.es.bulk(operations=operations)
        statuses = {item["update"]["status"] for item in response["items"]}
        if statuses & TRANSIENT_STATUSES:
            raise Unavailable("story updates refused for now")

    def _retrying(self, call: Callable):
        """`call()` until Elasticsearch answers, pausing longer each time it does not."""
        delay = 0.5
        while True:
            try:
                return call()
            except (TransportConnectionError, ConnectionTimeout, Unavailable) as exc:
                problem = f"{type(exc).__name__}"
            except ApiError as exc:
                if exc.meta.status not in TRANSIENT_STATUSES:
                    raise
                problem = f"HTTP {exc.meta.status}"
            log.warning("index: Elasticsearch unavailable (%s); retrying in %.1f s", problem, delay)
            self.wait(delay)
            delay = min(delay * 2, self.settings.index_retry_max_seconds)

    def _dead_letter(self, record: ConsumerRecord, article: NormalizedArticle | None, reason: Reason, detail: str) -> None:
        letter = DeadLetter.about(record, "index", reason, detail, self.settings.kafka_max_message_bytes // 4, article)
        self.publisher.send(self.settings.topic_dlq, letter.key(), letter)
        log.warning("dead letter reason=%s article_id=%s: %s", reason, letter.article_id, detail)


def _order(article: NormalizedArticle) -> tuple[datetime, datetime, str]:
    """Which article of a story came first: the earliest published (a copy is published after
    its original, whatever order we crawl them in); then the first seen; then the id."""
    return (article.published_at.value if article.published_at else LATEST, article.first_seen_at, article.article_id)


def _order_of_hit(source: dict) -> tuple[datetime, datetime, str]:
    published = source.get("published_at")
    return (datetime.fromisoformat(published) if published else LATEST,
            datetime.fromisoformat(source["first_seen_at"]), source["article_id"])


def run(settings: Settings) -> None:
    """Consume news.articles until SIGTERM or SIGINT; each batch indexed, then committed."""
    shutdown = Shutdown(signal.SIGTERM, signal.SIGINT)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s index %(levelname)s %(message)s")
    # The indexer retries on its own, with pauses that keep its group membership: a client that
    # also retried would hold a batch through up to four request timeouts while a node restarts.
    es = elasticsearch_client(settings, max_retries=0)
    # Under a steady trickle the broker would answer each poll with one article, and each article
    # would cost a story search, a bulk request and a commit: let it gather up to 64 KiB for 200 ms.
    consumer = kafka_consumer(settings, settings.index_group, settings.topic_articles,
                              max_poll_records=settings.index_batch_size, fetch_min_bytes=64 * 1024,
                              fetch_max_wait_ms=200)
    publisher = Publisher(settings)

    def wait(seconds: float) -> None:
        # Poll while paused: nothing is fetched, and the group keeps this member and its partitions.
        partitions = consumer.assignment()
        consumer.pause(*partitions)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not shutdown.requested:
            consumer.poll(timeout_ms=int(max(0.0, deadline - time.monotonic()) * 1000) or 1)
        consumer.resume(*partitions)

    indexer = Indexer(settings, es, publisher, wait)
    try:
        indexer._retrying(lambda: create_index(es, settings))
        while not shutdown.requested:
            batch = [record for records in consumer.poll(timeout_ms=1000).values() for record in records]
            if not batch:
                continue
            checkpoint = Checkpoint(consumer, publisher)
            counts = indexer.index_batch([record for record in batch if record.value is not None])  # no tombstones
            for record in batch:
                checkpoint.track(record)
            checkpoint.commit()
            log.info("index: %s", counts)
    finally:
        publisher.close()
        consumer.close(autocommit=False)
        es.close()
