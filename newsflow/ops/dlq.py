"""Reading news.dlq, and sending its letters back once their cause is fixed: `newsflow dlq ...`.

A letter is named by its place on news.dlq, "partition:offset" (e.g. 3:17). `redrive` acts on
each chosen letter according to the stage that wrote it:

- transform and index letters carry the record the stage failed on: it is produced again, with its
  key, to the topic it was read from, and the stage handles it anew. Downstream is idempotent
  (same article id, same version), so redriving a letter twice stores nothing twice.
- ingest letters concern a page that could not be fetched for good: its failure is forgotten, so
  the next ingest run of its source fetches the page again.
- a letter without its record (too large to travel in a letter) cannot be redriven; it is reported.

`redrive_report` (the news_redrive DAG) redrives chosen letters but the permanent ones — whose input
would fail again, unless its cause was fixed — unless asked, and says how many and which.
"""

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from kafka import KafkaConsumer
from pydantic import BaseModel, ValidationError

from ingest.state import SeenStore
from newsflow.clients import kafka_consumer
from newsflow.deadletters import DeadLetter
from newsflow.errors import ConfigError
from newsflow.publisher import Publisher
from newsflow.settings import Settings
from newsflow.topics import read_all
from newsflow.urls import canonical_url


@dataclass(frozen=True)
class StoredLetter:
    position: str  # "partition:offset" on news.dlq
    written_at: datetime
    letter: DeadLetter | None  # None: the record is not a dead letter (written by something else)


@dataclass
class Redriven:
    resent: Counter[str] = field(default_factory=Counter)  # records produced again, by topic
    refetch: int = 0  # ingest failures forgotten: fetched again at the next run
    impossible: list[str] = field(default_factory=list)  # positions of letters without their record


MAX_IDS = 100  # article ids a report names: enough to look into, small enough for an XCom


class RedriveReport(BaseModel):
    """What `redrive_report` did with the letters chosen; small enough for an Airflow XCom."""

    chosen: int = 0
    redriven: int = 0
    resent: dict[str, int] = {}  # records produced again, by topic
    refetch: int = 0  # ingest failures forgotten: fetched again at the next run
    refused_permanent: int = 0  # permanent letters left on news.dlq: not asked to redrive them
    impossible: list[str] = []  # positions of letters without their record
    article_ids: list[str] = []  # of the redriven letters
    refused_article_ids: list[str] = []  # of the refused ones
    dry_run: bool = False

    def brief(self) -> dict:
        """The report with the first MAX_IDS article ids of each list only: for an XCom."""
        return {
            **self.model_dump(),
            "article_ids": self.article_ids[:MAX_IDS],
            "refused_article_ids": self.refused_article_ids[:MAX_IDS],
        }


def read_letters(settings: Settings, consumer: KafkaConsumer | None = None) -> list[StoredLetter]:
    """Every letter news.dlq holds, oldest first within each partition."""
    reader = consumer or kafka_consumer(settings, None)
    try:
        records = read_all(reader, settings.topic_dlq)
    finally:
        if consumer is None:
            reader.close()
    return [
        StoredLetter(
            f"{record.partition}:{record.offset}", datetime.fromtimestamp(record.timestamp / 1000, UTC), _letter(record.value)
        )
        for record in records
    ]


def select(
    letters: list[StoredLetter],
    positions: Sequence[str] = (),
    stage: str | None = None,
    reason: str | None = None,
    source_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[StoredLetter]:
    """The letters at `positions` (all when none is given) that match every filter given; `since`
    (included) and `until` (excluded) bound when they were written to news.dlq."""
    known = {stored.position for stored in letters}
    unknown = [position for position in positions if position not in known]
    if unknown:
        raise ConfigError(f"no dead letter at {unknown[0]} on the topic (positions look like 3:17; see `newsflow dlq list`)")
    return [
        stored
        for stored in letters
        if (not positions or stored.position in positions)
        and (stage is None or (stored.letter and stored.letter.stage == stage))
        and (reason is None or (stored.letter and stored.letter.reason == reason))
        and (source_id is None or (stored.letter and stored.letter.source_id == source_id))
        and (since is None or stored.written_at >= since)
        and (until is None or stored.written_at < until)
    ]


def redrive(settings: Settings, letters: list[StoredLetter]) -> Redriven:
    """Send each letter back to the stage that failed it (see the module's docstring)."""
    done = Redriven()
    publisher = Publisher(settings)
    store = SeenStore.open(settings)
    try:
        for stored in letters:
            letter = stored.letter
            if letter and letter.stage == "ingest" and letter.url:
                done.refetch += store.forget_failure(canonical_url(letter.url))
            elif letter and letter.origin and letter.original is not None:
                key = letter.article_id.encode() if letter.article_id else None
                publisher.send_value(letter.origin.topic, key, letter.original.encode())
                done.resent[letter.origin.topic] += 1
            else:
                done.impossible.append(stored.position)
        publisher.flush()  # PublishFailed unless Kafka acknowledged every record sent back
    finally:
        publisher.close()
        store.close()
    return done


def redrive_report(settings: Settings, letters: list[StoredLetter], include_permanent: bool, dry_run: bool) -> RedriveReport:
    """Redrive `letters` (`redrive`), leaving the permanent ones on news.dlq unless `include_permanent`:
    their input would fail the same way again unless its cause was fixed. `dry_run`: only report."""
    refused = [stored for stored in letters if stored.letter and stored.letter.permanent and not include_permanent]
    refused_positions = {stored.position for stored in refused}
    chosen = [stored for stored in letters if stored.position not in refused_positions]
    done = Redriven() if dry_run else redrive(settings, chosen)
    return RedriveReport(
        chosen=len(letters),
        redriven=len(chosen) - len(done.impossible),
        resent=dict(done.resent),
        refetch=done.refetch,
        refused_permanent=len(refused),
        impossible=done.impossible,
        article_ids=_article_ids(chosen),
        refused_article_ids=_article_ids(refused),
        dry_run=dry_run,
    )


def _article_ids(letters: list[StoredLetter]) -> list[str]:
    return [stored.letter.article_id for stored in letters if stored.letter and stored.letter.article_id]


def _letter(value: bytes | None) -> DeadLetter | None:
    try:
        return DeadLetter.model_validate_json(value or b"")
    except ValidationError:
        return None
