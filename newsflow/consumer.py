"""The life of a consumer-group member, shared by the transform worker and the indexer.

`ConsumerLoop.run()` repeats these steps until it is asked to stop:

1. Poll a batch. Rebalances happen only inside poll, and the previous batch is committed by then:
   a revoked partition never holds processed but uncommitted records. A poll that hands out nothing
   commits the positions that moved past transaction markers (`Checkpoint.commit_skipped`).
2. Begin the batch's transaction, when the stage's publisher is transactional (exactly-once: the
   stage made its `Publisher` with a `transactional_id`).
3. Hand the batch to the stage's handler, which sends each record's outcome (its output or a dead
   letter) to the publisher. A handler that raises `Backpressure` gets the same batch again after
   `retry_after` seconds; meanwhile the assignment is paused and the member keeps polling, so the
   group keeps it and its partitions. What the handler sent before pushing back is sent again: in
   a transaction, the first sending is aborted before the batch is handed over again; otherwise the
   stage's idempotent output absorbs it.
4. Track every record of the batch as done.
5. Commit through the checkpoint: flush, check every acknowledgement, commit the offsets (in the
   batch's transaction when there is one).

When asked to stop it closes the consumer without committing (and aborts an open transaction): a
batch not yet committed is delivered again, to this member after a restart or to another one.
"""

import logging
import time
from collections.abc import Callable

from kafka import KafkaConsumer
from kafka.consumer.fetcher import ConsumerRecord

from newsflow.checkpoint import Checkpoint
from newsflow.errors import Backpressure
from newsflow.publisher import Publisher

log = logging.getLogger(__name__)

BatchHandler = Callable[[list[ConsumerRecord]], None]
CommitObserver = Callable[[float, int], None]  # (seconds the commit took, records behind the end of the topic)


class ConsumerLoop:
    def __init__(
        self,
        consumer: KafkaConsumer,
        publisher: Publisher,
        handle: BatchHandler,
        stopping: Callable[[], bool],
        after_commit: CommitObserver | None = None,
    ) -> None:
        self._consumer = consumer
        self._publisher = publisher
        self._handle = handle
        self._stopping = stopping
        self._after_commit = after_commit
        self._checkpoint = Checkpoint(consumer, publisher)

    def run(self) -> None:
        """Consume until `stopping()` holds; then close the consumer and the publisher."""
        try:
            while not self._stopping():
                batch = [record for records in self._consumer.poll(timeout_ms=1000).values() for record in records]
                if not batch:
                    self._checkpoint.commit_skipped()
                    continue
                self._publisher.begin()
                if not self._handled(batch):
                    return
                for record in batch:
                    self._checkpoint.track(record)
                started = time.perf_counter()
                self._checkpoint.commit()
                if self._after_commit:
                    self._after_commit(time.perf_counter() - started, self.lag())
        finally:
            self._publisher.close()  # aborting an open transaction first
            self._consumer.close(autocommit=False)

    def _handled(self, batch: list[ConsumerRecord]) -> bool:
        """Hand `batch` to the stage until it takes it; False when asked to stop meanwhile."""
        while True:
            try:
                self._handle(batch)
                return True
            except Backpressure as pressure:
                log.warning("%s; the batch is handed over again in %.1f s", pressure, pressure.retry_after)
                self._publisher.abort()
                if not self._paused_for(pressure.retry_after):
                    return False
                self._publisher.begin()

    def _paused_for(self, seconds: float) -> bool:
        """Keep polling, the assignment paused, for `seconds`; False when asked to stop meanwhile."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self._stopping():
                return False
            # Paused anew each time: a rebalance inside poll may have assigned new partitions.
            self._consumer.pause(*self._consumer.assignment())
            for partition, records in self._consumer.poll(timeout_ms=max(1, int((deadline - time.monotonic()) * 1000))).items():
                self._consumer.seek(partition, records[0].offset)  # fetched before the pause took: read again later
        self._consumer.resume(*self._consumer.paused())
        return True

    def lag(self) -> int:
        """Records of the assigned partitions after this member's position, as of the last fetch."""
        lag = 0
        for partition in self._consumer.assignment():
            highwater = self._consumer.highwater(partition)
            if highwater is not None:
                lag += max(0, highwater - self._consumer.position(partition))
        return lag
