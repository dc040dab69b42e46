"""`newsflow worker index`: news.articles into the `news` index, each article once, newest version kept.

`Indexer.index_batch(records)`, the handler of the index worker's consumer loop, goes through these steps:

1. Read each record as a `NormalizedArticle`; one that is not is to be dead-lettered.
2. Plan each article's story (`search.stories`): the stories indexed under its near-duplicate
   band keys, and which of them merge because the batch links them or predates their first.
3. Bulk-index with `_id` = article id and external version = content time (a replayed or late
   older version, or the same record twice, meets a version conflict, which is success), each
   article with its story; the request refreshes, so that the next steps and the next batch see it.
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

import logging
import signal
from datetime import UTC, datetime

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
from search.refusals import described, refused_for_now
from search.stories import Stories
from transform.contract import NormalizedArticle

log = logging.getLogger(__name__)


class Indexer:
    def __init__(self, settings: Settings, es: Elasticsearch, publisher: Publisher) -> None:
        self.settings = settings
        self.es = es
        self.publisher = publisher
        self._pause = 0.0  # seconds of the last Backpressure; 0 once Elasticsearch takes a batch
        self._index_exists = False
        self.stories = Stories(es, settings, self._backpressure)

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
            indexed_at = datetime.now(UTC)
            refused = self._bulk(
                {
                    article_id: (version(article), document(article, plan.stories[article_id], indexed_at))
                    for article_id, (_, article) in articles.items()
                }
            )
            rejected += [(*articles[article_id], Rejected(Reason.REJECTED, error)) for article_id, error in refused.items()]
            self.stories.settle(plan, [article for article_id, (_, article) in articles.items() if article_id not in refused])
        for record, refused_article, refusal in rejected:
            reject(self.publisher, self.settings, "index", record, refusal, refused_article)
        return {"indexed": len(articles) - len(refused), "dead_lettered": len(rejected)}

    def _backpressure(self, problem: str) -> Backpressure:
        """Pauses growing from 0.5 s to NEWSFLOW_INDEX_RETRY_MAX_SECONDS while Elasticsearch is away."""
        self._pause = min(self._pause * 2, self.settings.index_retry_max_seconds) if self._pause else 0.5
        return Backpressure(self._pause, f"index: Elasticsearch unavailable ({problem})")

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
        # Refreshed: the stories' check (search.stories, step 5) must see the batch, and so must the next batch's plan.
        for item in self.es.bulk(operations=operations, refresh=True)["items"]:
            result = item["index"]
            status = result["status"]
            if status < 300 or status == 409:  # 409: this version or a newer one is already there
                continue
            if refused_for_now(status, result.get("error", {}).get("type")):
                for_now.append(described(result))
            else:
                refused[result["_id"]] = described(result)
        if for_now:
            raise self._backpressure(f"{len(for_now)} of {len(documents)} documents refused for now, first: {for_now[0]}")
        return refused


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
