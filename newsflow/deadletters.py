"""The contract of `news.dlq`: what any stage could not process, and why.

Every stage writes dead letters, so their model lives here rather than in one stage. A letter
carries enough to act on it: the stage that failed, a reason code to count and filter by (one of
its stage's closed set, `STAGE_REASONS`), a human-readable detail, the article it concerns and,
where there was one, the original record so it can be sent back once the cause is fixed.
"""

import logging
from datetime import UTC, datetime
from typing import Literal, TypeVar

from kafka.consumer.fetcher import ConsumerRecord
from pydantic import BaseModel, Field, ValidationError, model_validator

from newsflow.errors import Reason, Rejected
from newsflow.publisher import Publisher
from newsflow.settings import Settings

log = logging.getLogger(__name__)

Contract = TypeVar("Contract", bound=BaseModel)

Stage = Literal["ingest", "transform", "index"]

STAGE_REASONS: dict[Stage, frozenset[Reason]] = {
    "ingest": frozenset(
        {
            Reason.SSRF_REFUSED,
            Reason.ROBOTS_DISALLOWED,
            Reason.TOO_LARGE,
            Reason.WRONG_CONTENT_TYPE,
            Reason.UNSUPPORTED_CONTENT_ENCODING,
            Reason.UNDECODABLE,
            Reason.TOO_MANY_REDIRECTS,
            Reason.HTTP_STATUS,
            Reason.UNREACHABLE,
            Reason.FETCH_FAILED,
        }
    ),
    "transform": frozenset(
        {
            Reason.NOT_JSON,
            Reason.SCHEMA_VIOLATION,
            Reason.UNPARSABLE_HTML,
            Reason.EMPTY_BODY,
            Reason.TOO_SHORT,
            Reason.EXTRACTION_FAILED,
            Reason.EXTRACTION_TIMEOUT,
            Reason.TOO_LARGE,
        }
    ),
    "index": frozenset({Reason.NOT_JSON, Reason.SCHEMA_VIOLATION, Reason.REJECTED}),
}


class Origin(BaseModel):
    """Where the record a stage failed on was read from."""

    topic: str
    partition: int
    offset: int


class DeadLetter(BaseModel):
    schema_version: Literal[1] = 1
    stage: Stage
    reason: Reason = Field(description="A stable code such as 'robots_disallowed' or 'too_large', of the stage's set.")
    detail: str = Field(description="What happened, for people.")
    source_id: str | None = None
    article_id: str | None = None
    url: str | None = None
    failed_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    permanent: bool = Field(
        True,
        description="Whether the same input would fail again (`Rejected.permanent`): false for a timeout or a 5xx, "
        "which may pass later. Letters written before the field are taken as permanent.",
    )
    origin: Origin | None = None
    original: str | None = Field(None, description="The record the stage failed on, as it was read (UTF-8).")

    @model_validator(mode="after")
    def _reason_of_its_stage(self) -> "DeadLetter":
        if self.reason not in STAGE_REASONS[self.stage]:
            raise ValueError(f"{self.reason} is not a reason of the {self.stage} stage")
        return self

    def key(self) -> bytes | None:
        """Records about one article share a key, so they stay in order on one partition."""
        return self.article_id.encode() if self.article_id else None

    @classmethod
    def about(
        cls, record: ConsumerRecord, stage: Stage, error: Rejected, max_original_bytes: int, article: BaseModel | None = None
    ) -> "DeadLetter":
        """A letter about a consumed record: where it was read, and the record itself while it
        is small enough for the letter to fit on the topic (JSON escaping can double a page)."""
        value = record.value or b""
        return cls(
            stage=stage,
            reason=error.reason,
            detail=str(error),
            permanent=error.permanent,
            origin=Origin(topic=record.topic, partition=record.partition, offset=record.offset),
            source_id=getattr(article, "source_id", None),
            article_id=getattr(article, "article_id", None),
            url=getattr(article, "url", None),
            original=value.decode("utf-8", errors="replace") if len(value) <= max_original_bytes else None,
        )


def read_record(contract: type[Contract], value: bytes) -> Contract:
    """The record's value as `contract`, or `Rejected` (not_json, schema_violation) saying why not."""
    try:
        return contract.model_validate_json(value)
    except ValidationError as exc:
        first = exc.errors()[0]
        reason = Reason.NOT_JSON if first["type"] == "json_invalid" else Reason.SCHEMA_VIOLATION
        where = ".".join(str(part) for part in first["loc"])
        raise Rejected(reason, f"not a {contract.__name__}: {where + ': ' if where else ''}{first['msg']}") from None


def reject(
    publisher: Publisher,
    settings: Settings,
    stage: Stage,
    record: ConsumerRecord,
    error: Rejected,
    article: BaseModel | None = None,
) -> DeadLetter:
    """Dead-letter a consumed record: its letter goes to news.dlq with the batch's other outputs."""
    letter = DeadLetter.about(record, stage, error, settings.kafka_max_message_bytes // 4, article)
    publisher.send(settings.topic_dlq, letter.key(), letter)
    log.warning("dead letter %s/%s article_id=%s: %s", stage, error.reason, letter.article_id, error)
    return letter
