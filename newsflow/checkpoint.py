"""The offsets of a consumer's batches, committed only once their output is durable."""

import logging
import time

from kafka import KafkaConsumer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import CommitFailedError, KafkaError
from kafka.structs import OffsetAndMetadata

from newsflow.publisher import Publisher

log = logging.getLogger(__name__)

COMMIT_PAUSES = (1, 2, 4, 8, 15)  # seconds between commit attempts while the coordinator is away


class Checkpoint:
    """The records a consumer-group member has handled since its last commit.

    `commit()` goes through these steps:

    1. Flush the producer: every record the batch produced (articles and dead letters) is sent.
    2. Check that Kafka acknowledged each of them; if one was refused, raise `PublishFailed` and
       commit nothing: the batch is consumed again (at-least-once; the article id makes a
       re-delivery harmless downstream).
    3. Commit, for each partition, the offset after the batch's last record. While the group
       coordinator is unreachable (a broker restarting) retry with growing pauses, then give up:
       the output is durable, so an uncommitted batch is only delivered again, which is harmless.

    The consumer loop (`newsflow.consumer`) commits before it polls again, and rebalances happen
    only inside poll: a revoked partition never has processed but uncommitted records, so none
    is lost and none is committed twice. A member that polls while paused (its sink pushing back)
    can lose its partitions meanwhile: then the commit is refused and the batch goes to their new
    owner again, which is harmless.
    """

    def __init__(self, consumer: KafkaConsumer, publisher: Publisher) -> None:
        self._consumer = consumer
        self._publisher = publisher
        self._next_offsets: dict[TopicPartition, int] = {}

    def track(self, record: ConsumerRecord) -> None:
        """Count `record` as done once its outputs have been sent to the publisher."""
        self._next_offsets[TopicPartition(record.topic, record.partition)] = record.offset + 1

    def commit(self) -> None:
        self._publisher.flush()
        if not self._next_offsets:
            return
        offsets = {partition: OffsetAndMetadata(offset, "", -1) for partition, offset in self._next_offsets.items()}
        self._next_offsets = {}
        for pause in (*COMMIT_PAUSES, None):
            try:
                self._consumer.commit(offsets)
                return
            except CommitFailedError:
                log.warning("partitions were reassigned during the batch: their new owner processes it again")
                return
            except KafkaError as exc:
                if not exc.retriable:
                    raise
                if pause is None:
                    log.warning("offsets not committed (%s): the batch will be delivered again", type(exc).__name__)
                    return
                log.warning("commit failed (%s); retrying in %g s", type(exc).__name__, pause)
                time.sleep(pause)
