"""The transactional `Publisher` on the real Kafka: a batch whose offsets the group refused (a stale
member) is aborted, and its offsets are not committed by the next transaction.

kafka-python 3.0 keeps a refused TxnOffsetCommit's offsets and sends them with the next
transaction's; before `Publisher.abort` dropped them, a transform process whose batch was refused
after a rebalance committed that batch's offsets with its next one, so the batch's records were
never processed by anyone (the loss docs/reliability.md recorded).
"""

import time
import uuid

import pytest
from kafka import TopicPartition
from kafka.errors import CommitFailedError
from kafka.structs import ConsumerGroupMetadata, OffsetAndMetadata

from newsflow.clients import kafka_admin, kafka_consumer
from newsflow.publisher import Publisher
from newsflow.settings import Settings
from tests.helpers import own_topics

pytestmark = pytest.mark.integration


def test_offsets_of_a_refused_and_aborted_batch_are_not_committed_with_the_next_transaction(local_services: Settings):
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    settings = local_services.model_copy(
        update={"topic_raw": f"{prefix}.raw", "topic_articles": f"{prefix}.articles", "topic_dlq": f"{prefix}.dlq"}
    )
    group = f"{prefix}-transform"
    with own_topics(settings):
        member = kafka_consumer(settings, group, settings.topic_raw)
        publisher = Publisher(settings, transactional_id=f"{prefix}.test.0")
        try:
            deadline = time.monotonic() + 60
            while not member.assignment():  # joined: the group has a generation and this member
                assert time.monotonic() < deadline, "the consumer did not join its group"
                member.poll(timeout_ms=200)
            current = member.group_metadata()
            stale = ConsumerGroupMetadata(group, current.generation_id, "a-member-the-group-expelled")
            first, second = TopicPartition(settings.topic_raw, 0), TopicPartition(settings.topic_raw, 1)

            publisher.begin()
            publisher.send_value(settings.topic_articles, b"a", b"{}")
            with pytest.raises(CommitFailedError):
                publisher.commit_transaction({first: OffsetAndMetadata(5, "", -1)}, stale)
            publisher.begin()
            publisher.send_value(settings.topic_articles, b"b", b"{}")
            publisher.commit_transaction({second: OffsetAndMetadata(3, "", -1)}, current)
        finally:
            publisher.close()
            member.close(autocommit=False)
        admin = kafka_admin(settings)
        try:
            committed = admin.list_group_offsets(group).get(group, {})
            admin.delete_groups([group])
        finally:
            admin.close()
    assert {partition: offset.offset for partition, offset in committed.items() if offset.offset >= 0} == {second: 3}
