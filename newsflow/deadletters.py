"""The contract of `news.dlq`: what any stage could not process, and why.

Every stage writes dead letters, so their model lives here rather than in one stage. A letter
carries enough to act on it: the stage that failed, a reason code to count and filter by, a
human-readable detail, the article it concerns and, where there was one, the original record
so it can be sent back once the cause is fixed.
"""

from datetime import UTC, datetime
from typing import Literal, TypeVar

from kafka.consumer.fetcher import ConsumerRecord
from pydantic import BaseModel, Field, ValidationError

Contract = TypeVar("Contract", bound=BaseModel)

Stage = Literal["ingest", "transform", "index"]


class Origin(BaseModel):
    """Where the record a stage failed on was read from."""

    topic: str
    partition: int
    offset: int


class DeadLetter(BaseModel):
    schema_version: Literal[1] = 1
    stage: Stage
    reason: str = Field(description="A stable code such as 'robots_disallowed' or 'too_large'.")
    detail: str = Field(description="What happened, for people.")
    source_id: str | None = None
    article_id: str | None = None
    url: str | None = None
    failed_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    origin: Origin | None = None
    original: str | None = Field(None, description="The record the stage failed on, as it was read (UTF-8).")

    def key(self) -> bytes | None:
        """Records about one article share a key, so they stay in order on one partition."""
        return self.article_id.encode() if self.article_id else None

    @classmethod
    def about(cls, record: ConsumerRecord, stage: Stage, reason: str, detail: str, max_original_bytes: int,
              article: "BaseModel | None" = None) -> "DeadLetter":
        """A letter about a consumed record: where it was read, and the record itself while it
        is small enough for the letter to fit on the topic (JSON escaping can double a page)."""
        value = record.value or b""
        return cls(
            stage=stage, reason=reason, detail=detail,
            origin=Origin(topic=record.topic, partition=record.partition, offset=record.offset),
            source_id=getattr(article, "source_id", None), article_id=getattr(article, "article_id", None),
            url=getattr(article, "url", None),
            original=value.decode("utf-8", errors="replace") if len(value) <= max_original_bytes else None,
        )


class UnreadableRecord(Exception):
    """A consumed record that is not its topic's contract; `reason` is not_json or schema_violation."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def read_record(contract: type[Contract], value: bytes) -> Contract:
    """The record's value as `contract`, or `UnreadableRecord` saying why not."""
    try:
        return contract.model_validate_json(value)
    except ValidationError as exc:
        first = exc.errors()[0]
        reason = "not_json" if first["type"] == "json_invalid" else "schema_violation"
        where = ".".join(str(part) for part in first["loc"])
        raise UnreadableRecord(reason, f"not a {contract.__name__}: {where + ': ' if where else ''}{first['msg']}") from None
