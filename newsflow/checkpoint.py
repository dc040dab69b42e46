"""The offsets of a consumer's batches, committed only once their output is durable."""

import logging
import time

from kafka import KafkaConsumer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import CommitFailedError, KafkaError, RebalanceInProgressError
from kafka.structs import OffsetAndMetadata

from newsflow.publisher import Publisher

log = logging.getLogger(__name__)

COMMIT_PAUSES = (1, 2, 4, 8, 15)  # seconds between commit attempts while the coordinator is away
COMMITTED_TIMEOUT_MS = 5000  # to ask the coordinator for a partition's committed offset


class Checkpoint:
    """The records a consumer-group member has handled since its last commit.

    `commit()` goes through these steps:

    1. Flush the producer: every record the batch produced (articles and dead letters) is sent.
    2. Check that Kafka acknowledged each of them; if one was refused, raise `PublishFailed` and
       commit nothing: the batch is consumed again.
    3. Commit, for each partition, the offset after the batch's last record:
       - with a transactional publisher (exactly-once), in the batch's transaction, which commits
         the output and the offsets at once. If the group gave the partitions to another member
         meanwhile, or the member is out of the group (its session expired: the broker would take
         a commit of no generation unchecked), the transaction is aborted and the member rewinds to the batch's start on the
         partitions it still holds: the batch's output is never read, and it is produced again once;
       - otherwise (at-least-once), after the output: while the group coordinator is unreachable
         (a broker restarting) retry with growing pauses, then give up and rewind to the batch's
         start on the partitions it still holds. The output is durable, so an uncommitted batch is
         only delivered again, and the article id makes that harmless downstream; news.articles
         then holds the article twice.

    The consumer loop (`newsflow.consumer`) commits before it polls again, and rebalances happen
    only inside poll: a revoked partition never has processed but uncommitted records, so none
    is lost and none is committed twice. A member that polls while paused (its sink pushing back)
    can lose its partitions meanwhile: then the commit is refused and the batch goes to their new
    owner again.

    `commit_skipped()` commits positions that moved past the last commit without a record being
    handed out: transaction markers (one offset each, never delivered) and aborted records. Without
    it a read_committed member's group would stay behind by them, and count as lagging. The last
    commit is this member's, or, on a partition it has not committed yet (given to it after a
    restart or a rebalance, with nothing but an aborted transaction left to read), the group's.
    """

    def __init__(self, consumer: KafkaConsumer, publisher: Publisher) -> None:
        self._consumer = consumer
        self._publisher = publisher
        self._first_offsets: dict[TopicPartition, int] = {}
        self._next_offsets: dict[TopicPartition, int] = {}
        self._committed: dict[TopicPartition, int] = {}  # what this member committed last, by partition

    def track(self, record: ConsumerRecord) -> None:
        """Count `record` as done once its outputs have been sent to the publisher."""
        partition = TopicPartition(record.topic, record.partition)
        self._first_offsets.setdefault(partition, record.offset)
        self._next_offsets[partition] = record.offset + 1

    def commit(self) -> None:
        offsets, first = self._next_offsets, self._first_offsets
        self._first_offsets, self._next_offsets = {}, {}
        if self._publisher.transactional:
            self._commit_transaction(offsets, first)
        else:
            self._publisher.flush()
            if not self._commit_offsets(offsets):
                self._rewind(first)

    def commit_skipped(self) -> None:
        offsets = {}
        for partition in self._consumer.assignment():
            committed = self._last_commit(partition)
            if committed is not None and self._consumer.position(partition) > committed:
                offsets[partition] = self._consumer.position(partition)
        self._commit_offsets(offsets)

    def _last_commit(self, partition: TopicPartition) -> int | None:
        """The group's last committed offset on `partition`; None while the coordinator cannot say."""
        if partition not in self._committed:
            try:
                # Asked once per partition, and only while idle: later commits on it are this member's own.
                self._committed[partition] = self._consumer.committed(partition, timeout_ms=COMMITTED_TIMEOUT_MS) or 0
            except KafkaError as exc:
                if not exc.retriable:
                    raise
                return None
        return self._committed[partition]

    def _commit_transaction(self, offsets: dict[TopicPartition, int], first: dict[TopicPartition, int]) -> None:
        group = self._consumer.group_metadata()
        try:
            if group.generation_id < 0 or not group.member_id:
                # Out of the group (its session expired mid-batch): the broker would take a transactional
                # commit of no generation without a check, while the partitions' new owner redoes the batch.
                self._publisher.abort()
                raise CommitFailedError("the member left the group during the batch")
            self._publisher.commit_transaction(_metadata(offsets), group)
        except CommitFailedError:
            log.warning("partitions were reassigned during the batch: its output is aborted, their new owner produces it")
            self._rewind(first)
            return
        self._committed.update(offsets)

    def _rewind(self, first: dict[TopicPartition, int]) -> None:
        """Seek back to the batch's start on the partitions this member still holds."""
        held = self._consumer.assignment()
        for partition, offset in first.items():
            if partition in held:
                self._consumer.seek(partition, offset)

    def _commit_offsets(self, offsets: dict[TopicPartition, int]) -> bool:
        """Commit `offsets` through the group coordinator, outside any transaction; False if not committed."""
        if not offsets:
            return True
        for pause in (*COMMIT_PAUSES, None):
            try:
                self._consumer.commit(_metadata(offsets))
                self._committed.update(offsets)
                return True
            except (CommitFailedError, RebalanceInProgressError):  # the output is durable: delivered again at worst
                log.warning("partitions were reassigned during the batch: their new owner processes it again")
                return False
            except KafkaError as exc:
                if not exc.retriable:
                    raise
                if pause is None:
                    log.warning("offsets not committed (%s): the batch will be delivered again", type(exc).__name__)
                    break
                log.warning("commit failed (%s); retrying in %g s", type(exc).__name__, pause)
                time.sleep(pause)
        return False


def _metadata(offsets: dict[TopicPartition, int]) -> dict[TopicPartition, OffsetAndMetadata]:
    return {partition: OffsetAndMetadata(offset, "", -1) for partition, offset in offsets.items()}
