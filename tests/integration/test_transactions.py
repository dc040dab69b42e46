"""The transactional `Publisher` and the checkpoint on the real Kafka: a batch whose offsets the group
refused (a stale member) is aborted, and its offsets are not committed by the next transaction; a
member given a partition that ends in an aborted transaction commits past it.

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

from newsflow.checkpoint import Checkpoint
from newsflow.clients import kafka_admin, kafka_consumer
from newsflow.consumer import ConsumerLoop
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


def test_a_member_given_a_partition_that_ends_in_an_aborted_transaction_commits_past_it(local_services: Settings):
    """A transform process killed mid-batch leaves an aborted transaction at the end of a partition of
    news.articles; the indexer member that gets the partition after a restart reads nothing of it, yet
    its group must not stay behind by it (a fault run waited 20 minutes for a lag that never cleared)."""
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    settings = local_services.model_copy(
        update={"topic_raw": f"{prefix}.raw", "topic_articles": f"{prefix}.articles", "topic_dlq": f"{prefix}.dlq"}
    )
    group = f"{prefix}-index"
    with own_topics(settings):
        writer = Publisher(settings, transactional_id=f"{prefix}.test.0")
        try:
            writer.begin()
            writer.send_value(settings.topic_articles, b"same-partition", b"{}")
            writer.commit_transaction({}, ConsumerGroupMetadata("", -1, ""))
            writer.begin()
            for _ in range(3):
                writer.send_value(settings.topic_articles, b"same-partition", b"{}")
            writer.flush()
            writer.abort()
        finally:
            writer.close()

        first = kafka_consumer(settings, group, settings.topic_articles)
        try:
            received: list = []
            deadline = time.monotonic() + 60
            while not received:
                assert time.monotonic() < deadline, "the committed record was not delivered"
                received = [record for records in first.poll(timeout_ms=500).values() for record in records]
            done = Checkpoint(first, Publisher(settings))
            done.track(received[0])
            done.commit()  # the first member stops here, as if killed: it never commits past the abort
        finally:
            first.close(autocommit=False)

        partition = TopicPartition(settings.topic_articles, received[0].partition)
        admin = kafka_admin(settings)
        second = kafka_consumer(settings, group, settings.topic_articles)
        try:
            end = second.end_offsets([partition])[partition]
            deadline = time.monotonic() + 60

            def caught_up() -> bool:
                assert time.monotonic() < deadline, f"the group stayed behind the end ({end}) of {partition}"
                committed = admin.list_group_offsets(group).get(group, {}).get(partition)
                return committed is not None and committed.offset == end

            def handle(batch: list) -> None:
                raise AssertionError(f"records of an aborted transaction were delivered: {batch}")

            ConsumerLoop(second, Publisher(settings), handle, caught_up).run()
            admin.delete_groups([group])
        finally:
            admin.close()
    assert end == 6  # the record, its commit marker, the three aborted records, their abort marker
