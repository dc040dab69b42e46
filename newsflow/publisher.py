"""Send pydantic records to Kafka and learn, record by record, which were acknowledged.

Stages act on an acknowledgement (mark an article seen, commit an offset) only after `flush`
has returned it; a record Kafka refused makes `flush` raise after the acknowledged ones are
reported, so the caller keeps what succeeded and fails loudly for the rest.
"""

from collections.abc import Callable

from kafka.errors import KafkaError, MessageSizeTooLargeError
from kafka.producer.future import FutureRecordMetadata
from pydantic import BaseModel

from newsflow.clients import kafka_producer
from newsflow.errors import PublishFailed, RecordTooLarge
from newsflow.settings import Settings

OnAcknowledged = Callable[[], None]


class Publisher:
    def __init__(self, settings: Settings) -> None:
        self._producer = kafka_producer(settings)
        self._limit = settings.kafka_max_message_bytes
        self._pending: list[tuple[FutureRecordMetadata, str, OnAcknowledged]] = []

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

    def close(self) -> None:
        self._producer.close()
