"""`newsflow worker index`: news.articles into the `news` index, each article once, newest version kept.

`Indexer.index_batch(records)`, the handler of the index worker's consumer loop, goes through these steps:

1. Read each record as a `NormalizedArticle`; one that is not is to be dead-lettered.
2. Plan each article's story (`search.stories`): the stories indexed under its near-duplicate
   band keys, and which of them merge because the batch links them or predates their first.
3. Bulk-index with `_id` = article id and external version = content time (a replayed or late
   older version, or the same record twice, meets a version conflict, which is success), each
   article with its story, in NEWSFLOW_INDEX_BULK_REQUESTS requests side by side; each refreshes,
   so that the next steps and the next batch see the batch.
4. Settle the stories: re-point the merged ones, and merge what other indexers wrote meanwhile
   into the batch's stories.
5. Dead-letter what Elasticsearch refused for good (mapping and parse errors) and the unreadable
   records, once the whole batch is settled.

When Elasticsearch cannot take the batch now (no connection, timeouts, 429, 5xx, or a block on the
index: `index.blocks.write`, `read_only`, `read_only_allow_delete` after a full disk; for the whole
request or some of its documents) the batch raises `Backpressure`, with pauses growing up to
NEWSFLOW_INDEX_RETRY_MAX_SECONDS: the loop hands it over again later, as long as it takes, and the
documents already indexed meet a version conflict. The loop commits the batch's offsets after it is
settled: every article is indexed or dead-lettered, and nothing is dead-lettered for a block.
"""

import gc
import logging
import signal
from concurrent.futures import ThreadPoolExecutor, wait
from datetime import UTC, datetime

import orjson
from elastic_transport import ConnectionError as TransportConnectionError
from elastic_transport import ConnectionTimeout
from elasticsearch import ApiError, Elasticsearch
from kafka.consumer.fetcher import ConsumerRecord

from newsflow.clients import elasticsearch_client, kafka_consumer
from newsflow.consumer import ConsumerLoop
from newsflow.deadletters import read_record, reject
from newsflow.errors import Backpressure, Reason, Rejected
from newsflow.malloc import one_arena
from newsflow.publisher import Publisher
from newsflow.settings import Settings
from newsflow.shutdown import Shutdown
from search.index import create_index, document, version
from search.refusals import described, refused_for_now
from search.stories import Stories
from transform.contract import NormalizedArticle

log = logging.getLogger(__name__)

LINE = orjson.OPT_APPEND_NEWLINE  # a bulk body is one JSON document a line


class Indexer:
    def __init__(self, settings: Settings, es: Elasticsearch, publisher: Publisher) -> None:
        self.settings = settings
        self.es = es
        self.publisher = publisher
        self._pause = 0.0  # seconds of the last Backpressure; 0 once Elasticsearch takes a batch
        self._index_exists = False
        self.stories = Stories(es, settings, self._backpressure)
        self._requests = ThreadPoolExecutor(settings.index_bulk_requests, thread_name_prefix="bulk")

    def index_batch(self, records: list[ConsumerRecord]) -> dict[str, int]:
        """Index or dead-letter every record (tombstones are skipped); return counts by outcome."""
        try:
            counts = self._settle(records)
        except (TransportConnectionError, ConnectionTimeout) as exc:
            raise self._backpressure(type(exc).__name__) from None
        except ApiError as exc:
            if not refused_for_now(exc.meta.status, exc.message):
                raise
            raise self._backpressure(f"HTTP {exc.meta.status} {exc.message}") from None
        self._pause = 0.0
        return counts

    def _settle(self, records: list[ConsumerRecord]) -> dict[str, int]:
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
            plan = self.stories.plan([article for _, article in articles.values()])
            refused = self._bulk([article for _, article in articles.values()], plan.stories)
            rejected += [(*articles[article_id], Rejected(Reason.REJECTED, error)) for article_id, error in refused.items()]
            self.stories.settle(plan, [article for article_id, (_, article) in articles.items() if article_id not in refused])
        for record, refused_article, refusal in rejected:
            reject(self.publisher, self.settings, "index", record, refusal, refused_article)
        return {"indexed": len(articles) - len(refused), "dead_lettered": len(rejected)}

    def _backpressure(self, problem: str) -> Backpressure:
        """Pauses growing from 0.5 s to NEWSFLOW_INDEX_RETRY_MAX_SECONDS while Elasticsearch is away."""
        self._pause = min(self._pause * 2, self.settings.index_retry_max_seconds) if self._pause else 0.5
        return Backpressure(self._pause, f"index: Elasticsearch unavailable ({problem})")

    def _bulk(self, articles: list[NormalizedArticle], stories: dict[str, str]) -> dict[str, str]:
        """Index the articles, each with its story (article id → story id); return those refused for
        good: id → why. `Backpressure` when Elasticsearch refused some for now.

        The batch goes in NEWSFLOW_INDEX_BULK_REQUESTS requests side by side, each sent once its
        documents are built: a shard indexes one request in one thread, and a node has a thread a core."""
        indexed_at = datetime.now(UTC)
        size = -(-len(articles) // self.settings.index_bulk_requests)
        answers = []
        for start in range(0, len(articles), size):
            # Serialized here by orjson, five times faster than the client's standard-library JSON; into one
            # buffer, which the client sends as it is (elasticsearch.helpers hands it bytes too).
            body = bytearray()
            for article in articles[start : start + size]:
                action = {
                    "_index": self.settings.index_alias,
                    "_id": article.article_id,
                    "version": version(article),
                    "version_type": "external",
                }
                body += orjson.dumps({"index": action}, option=LINE)
                body += orjson.dumps(document(article, stories[article.article_id], indexed_at), option=LINE)
            # Refreshed: the stories' check (search.stories, step 5) must see the batch, and so must the next batch's plan.
            answers.append(self._requests.submit(self.es.bulk, operations=[bytes(body)], refresh=True))  # type: ignore[list-item]
        wait(answers)  # all answered before any failure is raised: no request of this batch still runs
        refused, for_now = {}, []
        for item in (item for answer in answers for item in answer.result()["items"]):
            result = item["index"]
            status = result["status"]
            if status < 300 or status == 409:  # 409: this version or a newer one is already there
                continue
            if refused_for_now(status, result.get("error", {}).get("type")):
                for_now.append(described(result))
            else:
                refused[result["_id"]] = described(result)
        if for_now:
            raise self._backpressure(f"{len(for_now)} of {len(articles)} documents refused for now, first: {for_now[0]}")
        return refused


def run(settings: Settings) -> None:
    """Consume news.articles until SIGTERM or SIGINT; each batch indexed, then committed."""
    one_arena()  # before the Kafka client's and the bulk requests' threads
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
    gc.freeze()  # what start-up made: the collections a batch's thousands of objects set off need not walk it
    try:
        ConsumerLoop(consumer, publisher, handle, lambda: shutdown.requested).run()
    finally:
        es.close()
