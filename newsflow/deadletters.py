"""The contract of `news.dlq`: what any stage could not process, and why.

Every stage writes dead letters, so their model lives here rather than in one stage. A letter
carries enough to act on it: the stage that failed, a reason code to count and filter by, a
human-readable detail, the article it concerns and, where there was one, the original record
so it can be sent back once the cause is fixed.
"""

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, Field

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
