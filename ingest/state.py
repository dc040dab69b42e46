"""What ingest has already published, so unchanged pages are neither fetched nor published again,
which articles failed for good, so they are not fetched and dead-lettered again at every run,
what the last run of each source did (`newsflow status`), when each source is polled next
(`ingest.polling`), and the retention horizon: articles dated before it were dropped
(news_retention) and are not taken again.

It lives in an Elasticsearch index, NEWSFLOW_INGEST_STATE_INDEX (`newsflow-ingest-state`), which
every Airflow worker and the local CLI reach alike: a task that lands on another machine keeps its
validators and content hashes. Elasticsearch rather than a compacted Kafka topic because ingest
needs to read one key at a time (an article's validators, by canonical URL) and to write
conditionally: a topic would have to be read whole into every worker before each run, and it
has no compare-and-set. One document per thing remembered, its `_id` the thing's kind and a hash
of its key (`article-<article id>` for an article, which is the SHA-256 of its canonical URL).

Two runs of one source at once (two Airflow workers, a retry beside its slow first try) publish
each new or changed page once: before sending a page a run claims it (`claim`), creating its
article document (`op_type=create`) or updating it only if it has not changed since it was read
(`if_seq_no`/`if_primary_term`). The loser of that race sees the winner's claim on the same content
and leaves the page to it. A claim names its claimant: the Airflow task instance, which all its
tries share, or one CLI run. A retry takes over the claims of its earlier, dead try at once;
another claimant's claim lasts NEWSFLOW_INGEST_CLAIM_SECONDS, after which a later run takes it
over, so a page a dead run had claimed is late, never lost.

Articles are remembered only after Kafka acknowledged the record they describe: a crash before
that means the page is fetched and published again, never that it is lost. The SQLite file of
earlier versions (NEWSFLOW_INGEST_STATE_SQLITE) is imported once (`ingest.state_import`).
"""

import hashlib
import uuid
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from elasticsearch import BadRequestError, ConflictError, Elasticsearch, NotFoundError, helpers

from ingest.fetcher import Validators
from ingest.polling import PollState
from ingest.state_import import import_sqlite_once
from newsflow.clients import elasticsearch_client
from newsflow.settings import Settings
from newsflow.urls import article_id

MAPPINGS = {
    "dynamic": False,  # what is only read back by id stays in _source, unindexed
    "properties": {
        "kind": {"type": "keyword"},
        "key": {"type": "keyword"},  # the URL or source id the document is about
        "source_id": {"type": "keyword"},
        "article_id": {"type": "keyword"},
        "failed_at": {"type": "date"},
    },
}


@dataclass(frozen=True)
class SeenArticle:
    article_id: str
    validators: Validators
    content_sha256: str
    first_seen_at: datetime
    fetched_at: datetime


def document_id(kind: str, key: str) -> str:
    """`article-<article id>` for an article (its canonical URL's SHA-256), `<kind>-<SHA-256 of key>` otherwise."""
    return f"{kind}-{article_id(key) if kind == 'article' else hashlib.sha256(key.encode()).hexdigest()}"


class SeenStore:
    """The shared state, as one claimant sees it: `claimant` names who claims pages through this store
    (the tries of one Airflow task share a name; by default, a name of this store's own)."""

    def __init__(self, settings: Settings, es: Elasticsearch | None = None, claimant: str | None = None) -> None:
        self._es = es or elasticsearch_client(settings)
        self.claimant = claimant or f"run-{uuid.uuid4().hex}"
        self._index = settings.ingest_state_index
        self._claim_for = timedelta(seconds=settings.ingest_claim_seconds)
        if not self._es.indices.exists(index=self._index):
            try:
                self._es.indices.create(
                    index=self._index,
                    settings={"number_of_shards": 1, "number_of_replicas": settings.index_replicas},
                    mappings=MAPPINGS,
                )
            except BadRequestError as exc:
                if exc.error != "resource_already_exists_exception":  # else another worker created it meanwhile
                    raise

    @classmethod
    def open(cls, settings: Settings, claimant: str | None = None) -> "SeenStore":
        """The store of `settings`, its index created if missing and an earlier SQLite state imported once."""
        store = cls(settings, claimant=claimant)
        import_sqlite_once(settings, store)
        return store

    def close(self) -> None:
        self._es.close()

    def delete_index(self) -> None:
        """Forget everything: the state index is deleted (a bench's or a test's own)."""
        self._es.indices.delete(index=self._index)

    # The documents.

    def _get(self, kind: str, key: str) -> dict[str, Any] | None:
        try:
            return self._es.get(index=self._index, id=document_id(kind, key))["_source"]
        except NotFoundError:
            return None

    def _put(self, kind: str, key: str, **fields: Any) -> None:
        self._es.index(index=self._index, id=document_id(kind, key), document={"kind": kind, "key": key, **fields})

    def _many(self, kind: str, keys: list[str]) -> dict[str, dict[str, Any]]:
        """The documents of these keys that exist, by key (realtime, like `_get`)."""
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(keys), 1000):
            chunk = keys[start : start + 1000]
            docs = self._es.mget(index=self._index, ids=[document_id(kind, key) for key in chunk])["docs"]
            found.update({key: doc["_source"] for key, doc in zip(chunk, docs, strict=True) if doc.get("found")})
        return found

    def put_many(self, documents: list[dict[str, Any]]) -> int:
        """Create these documents (each with its `kind` and `key`) where none exists yet; how many were created."""
        actions = [
            {"_op_type": "create", "_index": self._index, "_id": document_id(doc["kind"], doc["key"]), "_source": doc}
            for doc in documents
        ]
        created, _ = helpers.bulk(self._es, actions, raise_on_error=False, stats_only=True)
        return created

    def _search(self, kind: str, *filters: dict) -> list[dict[str, Any]]:
        self._es.indices.refresh(index=self._index)  # written a moment ago by a run: searches see it
        query = {"bool": {"filter": [{"term": {"kind": kind}}, *filters]}}
        return [hit["_source"] for hit in helpers.scan(self._es, index=self._index, query={"query": query})]

    # Articles.

    def article(self, url: str) -> SeenArticle | None:
        return _seen(self._get("article", url))

    def articles(self, urls: list[str]) -> dict[str, SeenArticle]:
        """The published articles of these canonical URLs, by URL."""
        return {url: seen for url, doc in self._many("article", urls).items() if (seen := _seen(doc))}

    def claim(self, url: str, content_sha256: str, now: datetime) -> bool:
        """Take the right to publish this content of the article, unless it is published or another claimant
        holds a claim on it that has not expired; True when taken."""
        doc_id = document_id("article", url)
        while True:
            try:
                found = self._es.get(index=self._index, id=doc_id)
            except NotFoundError:
                found = None
            claim = {
                "claim_sha256": content_sha256,
                "claimed_until": (now + self._claim_for).isoformat(),
                "claimed_by": self.claimant,
            }
            try:
                if found is None:
                    self._es.create(index=self._index, id=doc_id, document={"kind": "article", "key": url, **claim})
                    return True
                doc = found["_source"]
                if doc.get("content_sha256") == content_sha256:
                    return False  # published meanwhile
                held = doc.get("claimed_until") and datetime.fromisoformat(doc["claimed_until"]) > now
                if held and doc.get("claimed_by") != self.claimant:
                    return False  # another run is publishing it
                self._es.index(
                    index=self._index,
                    id=doc_id,
                    document={**doc, **claim},
                    if_seq_no=found["_seq_no"],
                    if_primary_term=found["_primary_term"],
                )
                return True
            except ConflictError:
                continue  # another run wrote it between our read and our write: judge again

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
        self._put(
            "article",
            url,
            article_id=article_id,
            source_id=source_id,
            etag=validators.etag,
            last_modified=validators.last_modified,
            content_sha256=content_sha256,
            first_seen_at=first_seen_at.isoformat(),
            fetched_at=fetched_at.isoformat(),
        )

    def refetched(self, url: str, validators: Validators, fetched_at: datetime) -> None:
        """A conditional GET found the page unchanged: remember when, and its newest validators."""
        changes: dict[str, Any] = {"fetched_at": fetched_at.isoformat()}
        changes.update(
            {name: value for name, value in (("etag", validators.etag), ("last_modified", validators.last_modified)) if value}
        )
        with suppress(NotFoundError):  # forgotten meanwhile (retention): nothing to update
            self._es.update(index=self._index, id=document_id("article", url), doc=changes)

    def forget_articles(self, article_ids: list[str]) -> int:
        """Forget these published articles (retention dropped them); how many were remembered."""
        return self._delete({"bool": {"filter": [{"term": {"kind": "article"}}, {"terms": {"article_id": article_ids}}]}})

    def articles_of(self, source_ids: list[str]) -> int:
        """How many articles of these sources were published."""
        self._es.indices.refresh(index=self._index)
        query = {"bool": {"filter": [{"term": {"kind": "article"}}, {"terms": {"source_id": source_ids}}]}}
        return self._es.count(index=self._index, query=query)["count"]

    # Failures.

    def failure(self, url: str) -> str | None:
        """The reason an article was dead-lettered for good, if it was."""
        doc = self._get("failure", url)
        return doc["reason"] if doc else None

    def failures(self, urls: list[str]) -> dict[str, str]:
        """`failure` of each of these URLs that failed for good, by URL."""
        return {url: doc["reason"] for url, doc in self._many("failure", urls).items()}

    def record_failure(self, url: str, reason: str, failed_at: datetime) -> None:
        self._put("failure", url, reason=reason, failed_at=failed_at.isoformat())

    def forget_failure(self, url: str) -> bool:
        """Let the next run fetch the article again (its dead letter was redriven)."""
        try:
            self._es.delete(index=self._index, id=document_id("failure", url))
        except NotFoundError:
            return False
        return True

    def forget_failures_before(self, moment: datetime) -> int:
        """Forget the failures older than `moment`; how many."""
        query = {"bool": {"filter": [{"term": {"kind": "failure"}}, {"range": {"failed_at": {"lt": moment.isoformat()}}}]}}
        return self._delete(query)

    def _delete(self, query: dict[str, Any]) -> int:
        """Delete the documents `query` finds; how many. The local distribution has no _delete_by_query (it lacks
        the reindex module): a scan, then one bulk request."""
        self._es.indices.refresh(index=self._index)
        found = helpers.scan(self._es, index=self._index, query={"query": query}, _source=False)
        doomed = ({"_op_type": "delete", "_index": self._index, "_id": hit["_id"]} for hit in found)
        deleted, _ = helpers.bulk(self._es, doomed, raise_on_error=False, stats_only=True, refresh=True)  # 404: gone meanwhile
        return deleted

    # The horizon, polls, runs and listings.

    def horizon(self) -> datetime | None:
        """The retention horizon: articles dated before it left the index, and ingest does not take them again."""
        doc = self._get("horizon", "")
        return datetime.fromisoformat(doc["dropped_before"]) if doc else None

    def record_horizon(self, dropped_before: datetime) -> None:
        self._put("horizon", "", dropped_before=dropped_before.isoformat())

    def poll_state(self, source_id: str) -> PollState | None:
        doc = self._get("poll", source_id)
        if doc is None:
            return None
        return PollState(
            datetime.fromisoformat(doc["next_due_at"]),
            datetime.fromisoformat(doc["changed_at"]) if doc.get("changed_at") else None,
            timedelta(seconds=doc["period_seconds"]) if doc.get("period_seconds") is not None else None,
        )

    def record_poll(self, source_id: str, state: PollState) -> None:
        self._put(
            "poll",
            source_id,
            next_due_at=state.next_due_at.isoformat(),
            changed_at=state.changed_at.isoformat() if state.changed_at else None,
            period_seconds=state.period.total_seconds() if state.period is not None else None,
        )

    def record_run(self, source_id: str, finished_at: datetime, summary_json: str) -> None:
        self._put("run", source_id, source_id=source_id, finished_at=finished_at.isoformat(), summary=summary_json)

    def last_runs(self) -> list[tuple[str, datetime, str]]:
        """(source id, when its last run finished, its summary as JSON), by source id."""
        runs = sorted(self._search("run"), key=lambda doc: doc["key"])
        return [(doc["key"], datetime.fromisoformat(doc["finished_at"]), doc["summary"]) for doc in runs]

    def listing_validators(self, url: str) -> Validators | None:
        doc = self._get("listing", url)
        return Validators(doc.get("etag"), doc.get("last_modified")) if doc else None

    def record_listing(self, url: str, validators: Validators, fetched_at: datetime) -> None:
        self._put("listing", url, etag=validators.etag, last_modified=validators.last_modified, fetched_at=fetched_at.isoformat())


def _seen(doc: dict[str, Any] | None) -> SeenArticle | None:
    """The published article a document remembers; None for none, or only a claim (not published yet)."""
    if doc is None or not doc.get("content_sha256"):
        return None
    return SeenArticle(
        doc["article_id"],
        Validators(doc.get("etag"), doc.get("last_modified")),
        doc["content_sha256"],
        datetime.fromisoformat(doc["first_seen_at"]),
        datetime.fromisoformat(doc["fetched_at"]),
    )
