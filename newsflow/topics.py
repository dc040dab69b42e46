"""The pipeline's topics: `news.raw`, `news.articles` and `news.dlq`, created with their settings.

Their replication follows NEWSFLOW_TOPIC_REPLICATION_FACTOR and NEWSFLOW_TOPIC_MIN_INSYNC_REPLICAS (one
replica on one node; three, two of them in sync for a write, on a cluster of three): producers send
with acks=all (newsflow/clients.py), so a record acknowledged is on that many brokers.
"""

from contextlib import suppress

from kafka import KafkaConsumer, TopicPartition
from kafka.admin import NewTopic
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import TopicAlreadyExistsError

from newsflow.clients import kafka_admin
from newsflow.settings import Settings


def topic_specs(settings: Settings) -> list[NewTopic]:
    configs = {
        "retention.ms": str(settings.topic_retention_ms),
        # Whole pages travel on news.raw; the same cap serves every topic.
        "max.message.bytes": str(settings.kafka_max_message_bytes),
        "compression.type": "producer",
        "min.insync.replicas": str(settings.topic_min_insync_replicas),
    }
    return [
        NewTopic(name, settings.topic_partitions, settings.topic_replication_factor, topic_configs=configs)
        for name in (settings.topic_raw, settings.topic_articles, settings.topic_dlq)
    ]


def ensure_topics(settings: Settings) -> list[str]:
    """Create the topics that do not exist yet; return the names of those created."""
    admin = kafka_admin(settings)
    try:
        existing = set(admin.list_topics())
        missing = [spec for spec in topic_specs(settings) if spec.name not in existing]
        if missing:
            with suppress(TopicAlreadyExistsError):  # another process created them between list and create
                admin.create_topics(missing)
        return [spec.name for spec in missing]
    finally:
        admin.close()


def read_all(consumer: KafkaConsumer, topic: str) -> list[ConsumerRecord]:
    """Every record `topic` holds, from its start to its end as of now, read by a consumer
    without a group (nothing is committed)."""
    partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
    if not partitions:
        return []
    consumer.assign(partitions)
    consumer.seek_to_beginning(*partitions)
    ends = consumer.end_offsets(partitions)
    records: list[ConsumerRecord] = []
    while any(consumer.position(tp) < ends[tp] for tp in partitions):
        for batch in consumer.poll(timeout_ms=1000).values():
            records.extend(record for record in batch if record.offset < ends[TopicPartition(record.topic, record.partition)])
    return records
