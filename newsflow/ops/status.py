"""What the pipeline holds and how far each stage is behind: `newsflow status`, and the demo's progress.

A `Probe` reads without taking part: topic offsets through a consumer without a group, committed
offsets through the admin client, counts from Elasticsearch, the dead letters from news.dlq.
"""

from collections import Counter
from dataclasses import dataclass

from elastic_transport import ConnectionError as TransportConnectionError
from elastic_transport import ConnectionTimeout
from elasticsearch import NotFoundError
from kafka import TopicPartition
from kafka.errors import KafkaError

from newsflow.clients import elasticsearch_client, kafka_admin, kafka_consumer
from newsflow.ops.dlq import StoredLetter, read_letters
from newsflow.settings import Settings


@dataclass(frozen=True)
class Backlog:
    """A consumer group's position on a topic, in records summed over the partitions."""

    group: str
    topic: str
    consumed: int  # committed offsets (the topic's start where the group never committed)
    end: int

    @property
    def lag(self) -> int:
        return self.end - self.consumed


@dataclass(frozen=True)
class IndexCounts:
    articles: int  # searchable: not a near-duplicate of an earlier article
    duplicates: int
    size_bytes: int


class Probe:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._consumer = kafka_consumer(settings, None)
        self._admin = kafka_admin(settings)
        self._es = elasticsearch_client(settings, max_retries=0)

    def close(self) -> None:
        self._consumer.close()
        self._admin.close()
        self._es.close()

    def __enter__(self) -> "Probe":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def brokers(self) -> int:
        return len(self._admin.describe_cluster()["brokers"])

    def health(self) -> str:
        """Elasticsearch's cluster health (green, yellow, red), or "unreachable"."""
        try:
            return "cluster " + self._es.cluster.health(timeout="2s")["status"]
        except (TransportConnectionError, ConnectionTimeout):
            return "unreachable"

    def records(self, topic: str) -> int:
        """Offsets the topic holds now (retention may have removed older ones): its records, and on a topic
        written in transactions (news.articles, news.dlq) a commit or abort marker per transaction and partition."""
        partitions = self._partitions(topic)
        if not partitions:
            return 0
        start, end = self._consumer.beginning_offsets(partitions), self._consumer.end_offsets(partitions)
        return sum(end[tp] - start[tp] for tp in partitions)

    def backlog(self, group: str, topic: str) -> Backlog:
        partitions = self._partitions(topic)
        if not partitions:
            return Backlog(group, topic, 0, 0)
        try:
            committed = self._admin.list_group_offsets({group: partitions}).get(group, {})
        except KafkaError as exc:
            if not exc.retriable:
                raise
            committed = {}  # a new broker creates its offsets topic on first use: nothing committed yet
        start, end = self._consumer.beginning_offsets(partitions), self._consumer.end_offsets(partitions)
        consumed = 0
        for tp in partitions:
            offset = committed.get(tp)
            consumed += max(offset.offset, start[tp]) if offset is not None and offset.offset >= 0 else start[tp]
        return Backlog(group, topic, consumed, sum(end.values()))

    def index(self, source_ids: list[str] | None = None) -> IndexCounts | None:
        """What the index behind the alias holds (of these sources); None when it does not exist yet."""
        alias = self.settings.index_alias
        scope = [{"terms": {"source_id": source_ids}}] if source_ids is not None else []
        try:
            self._es.indices.refresh(index=alias)
            duplicates = self._es.count(index=alias, query={"bool": {"filter": [*scope, {"exists": {"field": "duplicate_of"}}]}})[
                "count"
            ]
            everything = self._es.count(index=alias, query={"bool": {"filter": scope}})["count"]
            size = self._es.indices.stats(index=alias, metric="store")["_all"]["primaries"]["store"]["size_in_bytes"]
        except NotFoundError:
            return None
        return IndexCounts(everything - duplicates, duplicates, size)

    def indexed_ids(self, article_ids: list[str]) -> set[str]:
        if not article_ids:
            return set()
        try:
            found = self._es.mget(index=self.settings.index_alias, ids=article_ids, source=False)["docs"]
        except NotFoundError:
            return set()
        return {doc["_id"] for doc in found if doc.get("found")}

    def dead_letters(self) -> list[StoredLetter]:
        return read_letters(self.settings, self._consumer)

    def _partitions(self, topic: str) -> list[TopicPartition]:
        return [TopicPartition(topic, p) for p in sorted(self._consumer.partitions_for_topic(topic) or ())]


def by_reason(letters: list[StoredLetter]) -> Counter[str]:
    """Dead letters counted by "stage/reason"."""
    return Counter(f"{stored.letter.stage}/{stored.letter.reason}" if stored.letter else "unreadable" for stored in letters)
