"""`newsflow.checkpoint.Checkpoint.commit`: flush, then commit the batch's offsets, without Kafka.

`ScriptedConsumer.commit` raises the errors a test scripts, one per attempt, then succeeds;
`FlushingPublisher.flush` counts its calls and raises what it is told to. Pauses are recorded
instead of slept.
"""

import logging
from typing import cast

import pytest
from kafka import KafkaConsumer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import (
    CommitFailedError,
    CoordinatorNotAvailableError,
    GroupAuthorizationFailedError,
    KafkaTimeoutError,
    NodeNotReadyError,
    RebalanceInProgressError,
)
from kafka.structs import ConsumerGroupMetadata, OffsetAndMetadata

import newsflow.checkpoint
from newsflow.checkpoint import Checkpoint
from newsflow.errors import PublishFailed
from newsflow.publisher import Publisher

PAUSES = (1, 2, 4)


class ScriptedConsumer:
    """A member holding `held` partitions; it records its commit attempts and its seeks."""

    def __init__(self, *errors: Exception, held: set[TopicPartition] | None = None) -> None:
        self.errors = list(errors)
        self.attempts: list[dict] = []  # the offsets of every commit attempt
        self.succeeded: dict | None = None  # the offsets of the attempt that succeeded
        self.held = {TopicPartition("news.raw", 0)} if held is None else held
        self.seeks: dict[TopicPartition, int] = {}

    def commit(self, offsets: dict) -> None:
        self.attempts.append(offsets)
        if self.errors:
            raise self.errors.pop(0)
        self.succeeded = offsets

    def assignment(self) -> set[TopicPartition]:
        return self.held

    def seek(self, partition: TopicPartition, offset: int) -> None:
        self.seeks[partition] = offset


class FlushingPublisher:
    transactional = False

    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.flushes = 0

    def flush(self) -> int:
        self.flushes += 1
        if self.error:
            raise self.error
        return 0


@pytest.fixture
def pauses(monkeypatch) -> list[float]:
    slept: list[float] = []
    monkeypatch.setattr(newsflow.checkpoint, "COMMIT_PAUSES", PAUSES)
    monkeypatch.setattr(newsflow.checkpoint.time, "sleep", slept.append)
    return slept


def record(topic: str, partition: int, offset: int) -> ConsumerRecord:
    return ConsumerRecord(topic, partition, -1, offset, 0, 0, None, b"{}", [], None, -1, 2, -1)


def checkpoint(
    consumer: ScriptedConsumer,
    publisher: FlushingPublisher | None = None,
    records: tuple[tuple[str, int, int], ...] = (("news.raw", 0, 41),),
) -> Checkpoint:
    done = Checkpoint(consumer, cast(Publisher, publisher or FlushingPublisher()))
    for topic, partition, offset in records:
        done.track(record(topic, partition, offset))
    return done


def test_the_offset_after_each_partitions_last_record_is_committed(pauses):
    consumer = ScriptedConsumer()
    checkpoint(consumer, records=(("news.raw", 0, 5), ("news.raw", 0, 6), ("news.raw", 2, 90), ("news.raw", 0, 7))).commit()
    assert {partition: meta.offset for partition, meta in consumer.succeeded.items()} == {
        TopicPartition("news.raw", 0): 8,
        TopicPartition("news.raw", 2): 91,
    }
    assert pauses == []


def test_offsets_are_committed_as_offset_and_metadata():
    consumer = ScriptedConsumer()
    checkpoint(consumer).commit()
    assert consumer.succeeded == {TopicPartition("news.raw", 0): OffsetAndMetadata(42, "", -1)}


def test_partitions_of_several_topics_are_committed_together():
    consumer = ScriptedConsumer()
    checkpoint(consumer, records=(("news.raw", 1, 3), ("news.articles", 1, 9))).commit()
    assert set(consumer.succeeded or ()) == {TopicPartition("news.raw", 1), TopicPartition("news.articles", 1)}
    assert len(consumer.attempts) == 1


def test_the_publisher_is_flushed_before_the_commit():
    order = []

    class Consumer(ScriptedConsumer):
        def commit(self, offsets):
            order.append("commit")
            super().commit(offsets)

    class Publisher(FlushingPublisher):
        def flush(self):
            order.append("flush")
            return super().flush()

    checkpoint(Consumer(), Publisher()).commit()
    assert order == ["flush", "commit"]


def test_nothing_tracked_flushes_and_commits_nothing():
    consumer, publisher = ScriptedConsumer(), FlushingPublisher()
    Checkpoint(consumer, cast(Publisher, publisher)).commit()
    assert publisher.flushes == 1 and consumer.attempts == []


def test_a_second_commit_without_new_records_commits_nothing():
    consumer = ScriptedConsumer()
    done = checkpoint(consumer)
    done.commit()
    done.commit()
    assert len(consumer.attempts) == 1


@pytest.mark.parametrize("error", [NodeNotReadyError, CoordinatorNotAvailableError])
def test_a_retriable_error_is_retried_after_a_pause(pauses, error):
    assert error.retriable
    consumer = ScriptedConsumer(error())
    checkpoint(consumer).commit()
    assert consumer.succeeded == {TopicPartition("news.raw", 0): OffsetAndMetadata(42, "", -1)}
    assert pauses == [1]


def test_the_pauses_grow_while_the_coordinator_is_away(pauses):
    consumer = ScriptedConsumer(CoordinatorNotAvailableError(), CoordinatorNotAvailableError())
    checkpoint(consumer).commit()
    assert consumer.succeeded is not None and len(consumer.attempts) == 3
    assert pauses == [1, 2]


def test_a_retry_commits_the_same_offsets(pauses):
    consumer = ScriptedConsumer(NodeNotReadyError())
    checkpoint(consumer).commit()
    assert consumer.attempts[0] == consumer.attempts[1]


def test_retriable_every_time_gives_up_after_the_pauses_without_raising(pauses, caplog):
    consumer = ScriptedConsumer(*(CoordinatorNotAvailableError() for _ in range(len(PAUSES) + 1)))
    with caplog.at_level(logging.WARNING, logger="newsflow.checkpoint"):
        checkpoint(consumer).commit()
    assert consumer.succeeded is None
    assert len(consumer.attempts) == len(PAUSES) + 1  # one attempt, then one after each pause
    assert pauses == list(PAUSES)
    assert "offsets not committed (CoordinatorNotAvailableError)" in caplog.records[-1].getMessage()
    assert caplog.records[-1].levelno == logging.WARNING


@pytest.mark.parametrize("error", [CommitFailedError("generation changed"), RebalanceInProgressError("rejoining")])
def test_reassigned_partitions_return_without_a_retry(pauses, caplog, error):
    assert not error.retriable
    consumer = ScriptedConsumer(error)
    with caplog.at_level(logging.WARNING, logger="newsflow.checkpoint"):
        checkpoint(consumer).commit()
    assert len(consumer.attempts) == 1 and consumer.succeeded is None
    assert pauses == []
    assert "reassigned" in caplog.records[-1].getMessage()


def test_a_non_retriable_kafka_error_is_raised(pauses):
    assert not GroupAuthorizationFailedError.retriable
    consumer = ScriptedConsumer(GroupAuthorizationFailedError("newsflow-transform"))
    with pytest.raises(GroupAuthorizationFailedError):
        checkpoint(consumer).commit()
    assert len(consumer.attempts) == 1 and pauses == []


def test_a_non_retriable_error_after_a_retriable_one_is_raised(pauses):
    consumer = ScriptedConsumer(NodeNotReadyError(), GroupAuthorizationFailedError("newsflow-transform"))
    with pytest.raises(GroupAuthorizationFailedError):
        checkpoint(consumer).commit()
    assert len(consumer.attempts) == 2 and pauses == [1]


def test_an_error_that_is_not_kafkas_is_raised(pauses):
    consumer = ScriptedConsumer(TypeError("offsets must be dict[TopicPartition, OffsetAndMetadata]"))
    with pytest.raises(TypeError):
        checkpoint(consumer).commit()
    assert pauses == []


def test_a_refused_record_commits_nothing(pauses):
    consumer = ScriptedConsumer()
    publisher = FlushingPublisher(PublishFailed("Kafka refused 1 of 3 records; first: news.articles: KafkaTimeoutError"))
    with pytest.raises(PublishFailed):
        checkpoint(consumer, publisher).commit()
    assert consumer.attempts == []


class TransactionalPublisher(FlushingPublisher):
    """Commits each transaction with its offsets, or raises what it is told to (and aborts, like `Publisher`)."""

    transactional = True

    def __init__(self, error: Exception | None = None) -> None:
        super().__init__()
        self.commit_error = error
        self.transactions: list[dict] = []
        self.aborts = 0

    def commit_transaction(self, offsets: dict, group: object) -> None:
        self.flush()
        if self.commit_error:
            self.abort()
            raise self.commit_error
        self.transactions.append(offsets)

    def abort(self) -> None:
        self.aborts += 1


class PositionedConsumer(ScriptedConsumer):
    """A member at `positions`, in a group that committed `by_group` (asked of the coordinator)."""

    def __init__(
        self,
        held: set[TopicPartition],
        positions: dict[TopicPartition, int] | None = None,
        generation: int = 1,
        by_group: dict[TopicPartition, int] | None = None,
    ) -> None:
        super().__init__(held=held)
        self.positions = positions or {}
        self.generation = generation
        self.by_group = by_group or {}
        self.asked: list[TopicPartition] = []

    def position(self, partition: TopicPartition) -> int:
        return self.positions[partition]

    def committed(self, partition: TopicPartition, timeout_ms: int) -> int | None:
        self.asked.append(partition)
        return self.by_group.get(partition)

    def group_metadata(self) -> ConsumerGroupMetadata:
        if self.generation < 0:  # what kafka-python reports once the member's session expired
            return ConsumerGroupMetadata("transform", -1, "")
        return ConsumerGroupMetadata("transform", self.generation, "member-1")


RAW0, RAW1 = TopicPartition("news.raw", 0), TopicPartition("news.raw", 1)


def transactional(consumer, publisher) -> Checkpoint:
    done = Checkpoint(cast(KafkaConsumer, consumer), cast(Publisher, publisher))
    for offset in (5, 6, 7):
        done.track(record("news.raw", 0, offset))
    done.track(record("news.raw", 1, 40))
    return done


def test_a_transactional_checkpoint_commits_the_offsets_in_the_transaction_not_through_the_consumer():
    consumer, publisher = PositionedConsumer({RAW0, RAW1}), TransactionalPublisher()
    transactional(consumer, publisher).commit()
    assert publisher.transactions == [{RAW0: OffsetAndMetadata(8, "", -1), RAW1: OffsetAndMetadata(41, "", -1)}]
    assert consumer.attempts == [] and consumer.seeks == {}


def test_a_transaction_refused_after_a_rebalance_rewinds_the_partitions_still_held_to_the_batchs_start():
    consumer, publisher = PositionedConsumer({RAW0}), TransactionalPublisher(CommitFailedError("generation"))
    transactional(consumer, publisher).commit()
    assert consumer.seeks == {RAW0: 5}  # partition 1 went to another member, which consumes the batch again
    assert publisher.aborts == 1 and consumer.attempts == []


def test_a_member_out_of_the_group_aborts_its_transaction_and_rewinds_instead_of_committing_it():
    consumer, publisher = PositionedConsumer({RAW0, RAW1}, generation=-1), TransactionalPublisher()
    transactional(consumer, publisher).commit()
    assert publisher.transactions == [] and publisher.aborts == 1  # the broker would have taken it unchecked
    assert consumer.seeks == {RAW0: 5, RAW1: 40}


def test_positions_moved_past_transaction_markers_alone_are_committed_when_idle():
    consumer = PositionedConsumer({RAW0, RAW1}, {RAW0: 9, RAW1: 41}, by_group={RAW0: 9, RAW1: 41})
    done = Checkpoint(cast(KafkaConsumer, consumer), cast(Publisher, FlushingPublisher()))
    done.commit_skipped()
    assert consumer.attempts == []  # the member stands where the group committed
    for offset in (7, 40):
        done.track(record("news.raw", 0 if offset == 7 else 1, offset))
    done.commit()
    done.commit_skipped()  # a marker at offset 8 of partition 0
    assert consumer.attempts[-1] == {RAW0: OffsetAndMetadata(9, "", -1)}
    done.commit_skipped()
    assert len(consumer.attempts) == 2  # committed once
    assert sorted(consumer.asked) == [RAW0, RAW1]  # the group asked once per partition


def test_a_partition_given_with_only_an_aborted_transaction_left_commits_the_position_past_it():
    # Another member committed 30 on partition 1, then a transaction (records 30-34, its abort marker 35)
    # was aborted: this member, given the partition, reads nothing and stands at 36.
    consumer = PositionedConsumer({RAW1}, {RAW1: 36}, by_group={RAW1: 30})
    Checkpoint(cast(KafkaConsumer, consumer), cast(Publisher, FlushingPublisher())).commit_skipped()
    assert consumer.succeeded == {RAW1: OffsetAndMetadata(36, "", -1)}


def test_while_the_coordinator_cannot_say_what_the_group_committed_nothing_is_committed_and_it_is_asked_again():
    class AwayCoordinator(PositionedConsumer):
        def committed(self, partition, timeout_ms):
            self.asked.append(partition)
            raise KafkaTimeoutError("Failed to get offsets by timeout")

    consumer = AwayCoordinator({RAW1}, {RAW1: 36})
    done = Checkpoint(cast(KafkaConsumer, consumer), cast(Publisher, FlushingPublisher()))
    done.commit_skipped()
    done.commit_skipped()
    assert consumer.attempts == [] and consumer.asked == [RAW1, RAW1]


def test_a_batch_given_up_on_is_rewound_so_that_this_member_delivers_it_again(pauses):
    consumer = ScriptedConsumer(*(CoordinatorNotAvailableError() for _ in range(len(PAUSES) + 1)))
    checkpoint(consumer, records=(("news.raw", 0, 41), ("news.raw", 0, 42))).commit()
    assert consumer.succeeded is None and consumer.seeks == {TopicPartition("news.raw", 0): 41}
