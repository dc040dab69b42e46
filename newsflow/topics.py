"""The pipeline's topics: `news.raw`, `news.articles` and `news.dlq`, created with their settings."""

from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

from newsflow.clients import kafka_admin
from newsflow.settings import Settings


def topic_specs(settings: Settings) -> list[NewTopic]:
    configs = {
        "retention.ms": str(settings.topic_retention_ms),
        # Whole pages travel on news.raw; the same cap serves every topic.
        "max.message.bytes": str(settings.kafka_max_message_bytes),
        "compression.type": "producer",
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
            try:
                admin.create_topics(missing)
            except TopicAlreadyExistsError:
                pass  # another process created them between list and create
        return [spec.name for spec in missing]
    finally:
        admin.close()
