"""`ingest.state_import.sqlite_documents`: an earlier version's SQLite state file read as the shared store's
documents, without Elasticsearch; and the ids those documents get (`ingest.state.document_id`)."""

import sqlite3

from ingest.state import document_id
from ingest.state_import import sqlite_documents
from newsflow.urls import article_id

WHEN = "2026-11-01T10:00:00+00:00"


def test_each_row_becomes_the_document_of_its_kind_keyed_by_its_url_or_source(tmp_path):
    path = tmp_path / "ingest.sqlite3"
    with sqlite3.connect(path) as db:
        db.executescript(
            """
            CREATE TABLE failures (url TEXT PRIMARY KEY, reason TEXT NOT NULL, failed_at TEXT NOT NULL);
            CREATE TABLE runs (source_id TEXT PRIMARY KEY, finished_at TEXT NOT NULL, summary TEXT NOT NULL);
            CREATE TABLE horizon (single INTEGER PRIMARY KEY CHECK (single = 1), dropped_before TEXT NOT NULL);
            CREATE TABLE polls (source_id TEXT PRIMARY KEY, next_due_at TEXT NOT NULL, changed_at TEXT, period_seconds REAL);
            """
        )
        db.execute("INSERT INTO failures VALUES ('https://a.example/x', 'robots_disallowed', ?)", (WHEN,))
        db.execute("INSERT INTO runs VALUES ('a', ?, '{}')", (WHEN,))
        db.execute("INSERT INTO horizon VALUES (1, ?)", (WHEN,))
        db.execute("INSERT INTO polls VALUES ('a', ?, NULL, 300.0)", (WHEN,))
    assert sqlite_documents(path) == [  # tables missing from the file (articles, listings) are skipped
        {"kind": "failure", "key": "https://a.example/x", "reason": "robots_disallowed", "failed_at": WHEN},
        {"kind": "run", "key": "a", "source_id": "a", "finished_at": WHEN, "summary": "{}"},
        {"kind": "horizon", "key": "", "dropped_before": WHEN},
        {"kind": "poll", "key": "a", "source_id": "a", "next_due_at": WHEN, "changed_at": None, "period_seconds": 300.0},
    ]


def test_an_articles_document_id_is_its_article_id_so_retention_forgets_it_by_id():
    url = "https://a.example/news/1"
    assert document_id("article", url) == f"article-{article_id(url)}"
    assert document_id("failure", url) != document_id("listing", url)
