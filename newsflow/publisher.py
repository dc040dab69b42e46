"""Send pydantic records to Kafka and learn, record by record, which were acknowledged.

Stages act on an acknowledgement (mark an article seen, commit an offset) only after `flush`
has returned it; a record Kafka refused makes `flush` raise after the acknowledged ones are
reported, so the caller keeps what succeeded and fails loudly for the rest.

A publisher made with a `transactional_id` (`transactional_id()` derives it for a consumer-group
member) sends inside Kafka transactions: the consumer loop begins one per batch, and the checkpoint
commits it together with the batch's offsets (`commit_transaction`) or aborts it (`abort`), so
read_committed consumers see a batch's output exactly once or not at all.

kafka-python waits for each step of a transaction (sending its offsets, committing, aborting) without
a limit, and after the broker coordinating a transaction died it was seen to wait for good, never
looking for the new coordinator (the cluster suite, tests/cluster). `within` bounds each of them.
"""

import socket
import threading
import time
from collections.abc import Callable
from contextlib import suppress

from kafka import TopicPartition
from kafka.errors import CommitFailedError, KafkaError, KafkaTimeoutError, MessageSizeTooLargeError
from kafka.producer.future import FutureRecordMetadata
from kafka.structs import ConsumerGroupMetadata, OffsetAndMetadata
from pydantic import BaseModel

from newsflow.clients import kafka_producer
from newsflow.errors import PublishFailed, RecordTooLarge
from newsflow.settings import Settings

OnAcknowledged = Callable[[], None]
CLOSE_SECONDS = 10.0  # what closing may take: aborting an open transaction, then sending what is queued
TRANSACTION_SECONDS = 60.0  # a step of a transaction; Kafka's Java client gives it max.block.ms, 60 s by default


def within(seconds: float, step: Callable[[], object], what: str) -> None:
    """Run `step` (one of kafka-python's transactional calls) in a thread of its own and wait for it
    at most `seconds`: its error is raised here, and `KafkaTimeoutError` if it has not returned by then
    (the thread is left waiting; the process is on its way out: see `commit_transaction`)."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            step()
        except BaseException as exc:  # noqa: BLE001 - raised in the caller's thread
            errors.append(exc)

    thread = threading.Thread(target=run, name=f"publisher-{what}", daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise KafkaTimeoutError(f"{what}: Kafka did not answer within {seconds:.0f} s")
    if errors:
        raise errors[0]


def transactional_id(settings: Settings, group: str, member: int) -> str:
    """The transactional.id of process `member` of a worker of `group` on this machine.

    The same after a restart (group, NEWSFLOW_WORKER_NAME or else the host name, the process's index),
    so the restarted process fences the one it replaces and aborts the transaction that one left open
    at once: read_committed consumers would otherwise wait for it (transaction.timeout.ms) on every
    partition it wrote to."""
    return f"{group}.{settings.worker_name or socket.gethostname()}.{member}"


class Publisher:
    def __init__(self, settings: Settings, transactional_id: str | None = None) -> None:
        self._producer = kafka_producer(settings, transactional_id=transactional_id)
        self._limit = settings.kafka_max_message_bytes
        self._pending: list[tuple[FutureRecordMetadata, str, OnAcknowledged]] = []
        self.transactional = transactional_id is not None
        self._in_transaction = False
        if self.transactional:
            self._producer.init_transactions()

    def send(self, topic: str, key: bytes | None, record: BaseModel, on_acknowledged: OnAcknowledged = lambda: None) -> None:
        """Queue `record`; raise `RecordTooLarge` at once (nothing queued) if it can never be sent."""
        self.send_value(topic, key, record.model_dump_json().encode(), on_acknowledged)

    def send_value(self, topic: str, key: bytes | None, value: bytes, on_acknowledged: OnAcknowledged = lambda: None) -> None:
        """`send` for a record already serialized (a dead letter's original, sent back)."""
        try:
            future = self._producer.send(topic, key=key, value=value)
        except MessageSizeTooLargeError:
            raise RecordTooLarge(f"a {len(value)}-byte record, over NEWSFLOW_KAFKA_MAX_MESSAGE_BYTES ({self._limit})") from None
        self._pending.append((future, topic, on_acknowledged))

    def flush(self) -> int:
        """Wait for every record sent so far; run the callbacks of acknowledged ones; return their count."""
        self._producer.flush()
        pending, self._pending = self._pending, []
        failures = []
        for future, topic, on_acknowledged in pending:
            try:
                future.get(timeout=0)
            except KafkaError as exc:
                failures.append(f"{topic}: {type(exc).__name__}: {exc}")
                continue
            on_acknowledged()
        if failures:
            raise PublishFailed(f"Kafka refused {len(failures)} of {len(pending)} records; first: {failures[0]}")
        return len(pending)

    def begin(self) -> None:
        """Start the transaction of the next batch's output (nothing to do for a plain publisher)."""
        if self.transactional and not self._in_transaction:
            self._producer.begin_transaction()
            self._in_transaction = True

    def commit_transaction(self, offsets: dict[TopicPartition, OffsetAndMetadata], group: ConsumerGroupMetadata) -> None:
        """Flush, then commit the open transaction with the consumed `offsets` of the member `group` describes.

        `CommitFailedError` when the group took the member's partitions meanwhile: the transaction is
        aborted, and their new owner consumes the batch again. Other Kafka errors, and a step that takes
        over TRANSACTION_SECONDS (`KafkaTimeoutError`), leave it open: the caller's process exits, and
        its successor (same transactional id) finds the coordinator anew and aborts or completes it."""
        self.flush()
        try:
            if offsets:
                within(TRANSACTION_SECONDS, lambda: self._producer.send_offsets_to_transaction(offsets, group), "offsets")
        except CommitFailedError:
            self.abort()
            raise
        within(TRANSACTION_SECONDS, self._producer.commit_transaction, "commit")
        self._in_transaction = False

    def abort(self, seconds: float = TRANSACTION_SECONDS) -> None:
        """Abort the open transaction, if any: none of what it sent is ever read by a read_committed consumer.
        `KafkaTimeoutError` if Kafka has not answered within `seconds`, as for `commit_transaction`."""
        if self._in_transaction:
            self._pending = []
            within(seconds, self._producer.abort_transaction, "abort")
            self._in_transaction = False
            # kafka-python 3.0 keeps the offsets of a TxnOffsetCommit the group refused (a stale generation)
            # and sends them again with the next transaction's: the aborted batch's offsets would be
            # committed, and its records never processed. The Java client drops them here.
            self._producer._transaction_manager._pending_txn_offset_commits.clear()

    def close(self, timeout: float = CLOSE_SECONDS) -> None:
        """Abort the open transaction, if any, then close; within `timeout` seconds in all.

        After a broker of a cluster was restarted a closing process may wait for a coordinator that
        never answers it: the abort is given up after `timeout`. An open transaction left so is aborted
        by the successor with the same transactional id, or by Kafka after transaction.timeout.ms."""
        deadline = time.monotonic() + timeout
        with suppress(KafkaError):  # Kafka away: the successor or the transaction timeout aborts it
            self.abort(timeout)
        self._producer.close(timeout=max(0.0, deadline - time.monotonic()))
