"""What ingest has already published, so unchanged pages are neither fetched nor published again,
which articles failed for good, so they are not fetched and dead-lettered again at every run,
what the last run of each source did (`newsflow status`), when each source is polled next
(`ingest.polling`), and the retention horizon: articles dated before it were dropped
(news_retention) and are not taken again.

A small SQLite file under the state dir (`<state_dir>/ingest.sqlite3`), in WAL mode so that
parallel ingest tasks of one machine can share it. Rows are written only after Kafka acknowledged
the record they describe: a crash before that means the page is fetched and published again,
never that it is lost.
"""

import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from ingest.fetcher import Validators
from ingest.polling import PollState

SCHEMA = """
CREATE TABLE IF NOT EXISTS articles (
    url TEXT PRIMARY KEY,            -- canonical URL as discovered
    article_id TEXT NOT NULL,
    source_id TEXT NOT NULL,
    etag TEXT,
    last_modified TEXT,
    content_sha256 TEXT NOT NULL,
    first_seen_at TEXT NOT NULL,
    fetched_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS failures (
    url TEXT PRIMARY KEY,            -- canonical URL of an article that failed for good
    reason TEXT NOT NULL,
    failed_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    source_id TEXT PRIMARY KEY,      -- the last run of each source
    finished_at TEXT NOT NULL,
    summary TEXT NOT NULL            -- its IngestSummary as JSON
);
CREATE INDEX IF NOT EXISTS articles_by_id ON articles (article_id);
CREATE TABLE IF NOT EXISTS horizon (
    single INTEGER PRIMARY KEY CHECK (single = 1),
    dropped_before TEXT NOT NULL     -- articles dated before this left the index: not taken again
);
CREATE TABLE IF NOT EXISTS polls (
    source_id TEXT PRIMARY KEY,
    next_due_at TEXT NOT NULL,
    changed_at TEXT,                 -- when it last changed, as far as ingest knows
    period_seconds REAL              -- how often it changes, as its feeds announce or their entries show
);
CREATE TABLE IF NOT EXISTS listings (
    url TEXT PRIMARY KEY,            -- a feed, sitemap or listing page
    etag TEXT,
    last_modified TEXT,
    fetched_at TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class SeenArticle:
    article_id: str
    validators: Validators
    content_sha256: str
    first_seen_at: datetime
    fetched_at: datetime


class SeenStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, timeout=30, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(SCHEMA)

    @classmethod
    def under(cls, state_dir: Path) -> "SeenStore":
        return cls(state_dir / "ingest.sqlite3")

    def close(self) -> None:
        self._db.close()

    def article(self, url: str) -> SeenArticle | None:
        row = self._db.execute(
            "SELECT article_id, etag, last_modified, content_sha256, first_seen_at, fetched_at FROM articles WHERE url = ?",
            (url,),
        ).fetchone()
        if row is None:
            return None
        return SeenArticle(
            row[0], Validators(row[1], row[2]), row[3], datetime.fromisoformat(row[4]), datetime.fromisoformat(row[5])
        )

    def record_article(
        self,
        url: str,
        article_id: str,
        source_id: str,
        validators: Validators,
        content_sha256: str,
        first_seen_at: datetime,
        fetched_at: datetime,
    ) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO articles VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                url,
                article_id,
                source_id,
                validators.etag,
                validators.last_modified,
                content_sha256,
                first_seen_at.isoformat(),
                fetched_at.isoformat(),
            ),
        )

    def refetched(self, url: str, validators: Validators, fetched_at: datetime) -> None:
        """A conditional GET found the page unchanged: remember when, and its newest validators."""
        self._db.execute(
            "UPDATE articles SET fetched_at = ?, etag = COALESCE(?, etag), last_modified = COALESCE(?, last_modified) "
            "WHERE url = ?",
            (fetched_at.isoformat(), validators.etag, validators.last_modified, url),
        )

    def failure(self, url: str) -> str | None:
        """The reason an article was dead-lettered for good, if it was."""
        row = self._db.execute("SELECT reason FROM failures WHERE url = ?", (url,)).fetchone()
        return row[0] if row else None

    def record_failure(self, url: str, reason: str, failed_at: datetime) -> None:
        self._db.execute("INSERT OR REPLACE INTO failures VALUES (?, ?, ?)", (url, reason, failed_at.isoformat()))

    def forget_failure(self, url: str) -> bool:
        """Let the next run fetch the article again (its dead letter was redriven)."""
        return self._db.execute("DELETE FROM failures WHERE url = ?", (url,)).rowcount > 0

    def forget_articles(self, article_ids: list[str]) -> int:
        """Forget these published articles (retention dropped them); how many were remembered."""
        marks = ",".join("?" * len(article_ids))
        return self._db.execute(f"DELETE FROM articles WHERE article_id IN ({marks})", article_ids).rowcount

    def forget_failures_before(self, moment: datetime) -> int:
        """Forget the failures older than `moment`; how many."""
        return self._db.execute("DELETE FROM failures WHERE failed_at < ?", (moment.isoformat(),)).rowcount

    def horizon(self) -> datetime | None:
        """The retention horizon: articles dated before it left the index, and ingest does not take them again."""
        row = self._db.execute("SELECT dropped_before FROM horizon").fetchone()
        return datetime.fromisoformat(row[0]) if row else None

    def record_horizon(self, dropped_before: datetime) -> None:
        self._db.execute("INSERT OR REPLACE INTO horizon VALUES (1, ?)", (dropped_before.isoformat(),))

    def poll_state(self, source_id: str) -> PollState | None:
        row = self._db.execute(
            "SELECT next_due_at, changed_at, period_seconds FROM polls WHERE source_id = ?", (source_id,)
        ).fetchone()
        if row is None:
            return None
        return PollState(
            datetime.fromisoformat(row[0]),
            datetime.fromisoformat(row[1]) if row[1] else None,
            timedelta(seconds=row[2]) if row[2] is not None else None,
        )

    def record_poll(self, source_id: str, state: PollState) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO polls VALUES (?, ?, ?, ?)",
            (
                source_id,
                state.next_due_at.isoformat(),
                state.changed_at.isoformat() if state.changed_at else None,
                state.period.total_seconds() if state.period is not None else None,
            ),
        )

    def record_run(self, source_id: str, finished_at: datetime, summary_json: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO runs VALUES (?, ?, ?)", (source_id, finished_at.isoformat(), summary_json))

    def last_runs(self) -> list[tuple[str, datetime, str]]:
        """(source id, when its last run finished, its summary as JSON), by source id."""
        rows = self._db.execute("SELECT source_id, finished_at, summary FROM runs ORDER BY source_id").fetchall()
        return [(row[0], datetime.fromisoformat(row[1]), row[2]) for row in rows]

    def articles_of(self, source_ids: list[str]) -> int:
        """How many articles of these sources were published."""
        marks = ",".join("?" * len(source_ids))
        return self._db.execute(f"SELECT COUNT(*) FROM articles WHERE source_id IN ({marks})", source_ids).fetchone()[0]

    def listing_validators(self, url: str) -> Validators | None:
        row = self._db.execute("SELECT etag, last_modified FROM listings WHERE url = ?", (url,)).fetchone()
        return Validators(row[0], row[1]) if row else None

    def record_listing(self, url: str, validators: Validators, fetched_at: datetime) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO listings VALUES (?, ?, ?, ?)",
            (url, validators.etag, validators.last_modified, fetched_at.isoformat()),
        )
