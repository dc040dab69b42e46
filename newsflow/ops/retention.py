"""Retention: articles older than an age leave the index, and ingest forgets them (news_retention).

`expire` goes through these steps:

1. The cutoff is `now` minus the age. An article is older when it was published before the
   cutoff, or, without a publication date, first seen before it.
2. Count them by source and by the date that decided, in one search.
3. Unless a dry run: record the cutoff as ingest's retention horizon first, so that no ingest run
   takes such an article again from a listing that still dates it (undated links have no date to
   judge them by); then, a batch of ids at a time, delete the articles from the index and forget
   them in ingest's state; last, forget ingest's failures older than the cutoff.

A crash between a batch's deletion and its forgetting leaves a few rows in ingest's state, never
an article in the index that ingest would publish again.
"""

from collections.abc import Iterator
from datetime import datetime, timedelta
from itertools import islice
from typing import Any

from elasticsearch import helpers
from pydantic import BaseModel

from ingest.state import SeenStore
from newsflow.clients import elasticsearch_client
from newsflow.settings import Settings

BATCH = 500  # ids deleted from the index and forgotten by ingest together


class RetentionReport(BaseModel):
    """What `expire` found and dropped; small enough for an Airflow XCom."""

    cutoff: datetime
    expired: int = 0  # articles older than the cutoff
    by_source: dict[str, int] = {}
    by_date: dict[str, int] = {}  # published_at: dated by publication; first_seen_at: undated, first seen before
    deleted: int = 0  # of them, deleted from the index (0 on a dry run)
    forgotten: int = 0  # their rows in ingest's state, forgotten
    failures_forgotten: int = 0  # ingest's failures older than the cutoff, forgotten
    dry_run: bool = False


def older_than(cutoff: datetime) -> dict[str, Any]:
    """The query of the articles older than `cutoff`: published before it, or undated and first seen before it."""
    return {
        "bool": {
            "should": [
                {"range": {"published_at": {"lt": cutoff.isoformat()}}},
                {
                    "bool": {
                        "must_not": {"exists": {"field": "published_at"}},
                        "filter": {"range": {"first_seen_at": {"lt": cutoff.isoformat()}}},
                    }
                },
            ],
            "minimum_should_match": 1,
        }
    }


def expire(settings: Settings, max_age: timedelta, now: datetime, dry_run: bool = False) -> RetentionReport:
    """Drop the articles older than `max_age` from the index and from ingest's state (see the module's docstring)."""
    cutoff = now - max_age
    query = older_than(cutoff)
    es = elasticsearch_client(settings)
    try:
        found = es.search(
            index=settings.index_alias,
            query=query,
            size=0,
            track_total_hits=True,
            aggs={
                "sources": {"terms": {"field": "source_id", "size": 1000}},
                "undated": {"missing": {"field": "published_at"}},
            },
        )
        expired = found["hits"]["total"]["value"]
        undated = found["aggregations"]["undated"]["doc_count"]
        report = RetentionReport(
            cutoff=cutoff,
            expired=expired,
            by_source={bucket["key"]: bucket["doc_count"] for bucket in found["aggregations"]["sources"]["buckets"]},
            by_date={"published_at": expired - undated, "first_seen_at": undated},
            dry_run=dry_run,
        )
        if dry_run:
            return report
        store = SeenStore.open(settings)
        try:
            store.record_horizon(cutoff)
            hits = _ids(es, settings.index_alias, query)
            while ids := list(islice(hits, BATCH)):
                deleted, _ = helpers.bulk(
                    es,
                    ({"_op_type": "delete", "_index": index, "_id": id_} for index, id_ in ids),
                    ignore_status=404,  # deleted meanwhile: gone as it should be
                    refresh="wait_for",
                )
                report.deleted += deleted
                report.forgotten += store.forget_articles([id_ for _, id_ in ids])
            report.failures_forgotten = store.forget_failures_before(cutoff)
        finally:
            store.close()
        return report
    finally:
        es.close()


def _ids(es: Any, alias: str, query: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(physical index, id) of every document `query` matches; ids only, no sources."""
    for hit in helpers.scan(es, index=alias, query={"query": query, "_source": False}):
        yield hit["_index"], hit["_id"]
