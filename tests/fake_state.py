"""An in-memory stand-in for ingest's shared state (`ingest.state.SeenStore`), for the unit tests of
what a run discovers and which links it takes, which need no Elasticsearch.

It keeps what those steps read and write, and only that: listings' validators, the retention
horizon, and published articles (none unless a test adds them).
"""

from datetime import datetime
from typing import cast

from ingest.fetcher import Validators
from ingest.state import SeenArticle, SeenStore


class MemoryStore:
    def __init__(self) -> None:
        self.listings: dict[str, Validators] = {}
        self.seen: dict[str, SeenArticle] = {}
        self._horizon: datetime | None = None

    def listing_validators(self, url: str) -> Validators | None:
        return self.listings.get(url)

    def record_listing(self, url: str, validators: Validators, fetched_at: datetime) -> None:
        self.listings[url] = validators

    def horizon(self) -> datetime | None:
        return self._horizon

    def record_horizon(self, dropped_before: datetime) -> None:
        self._horizon = dropped_before

    def articles(self, urls: list[str]) -> dict[str, SeenArticle]:
        return {url: self.seen[url] for url in urls if url in self.seen}

    def close(self) -> None:
        pass


def memory_store() -> SeenStore:
    return cast(SeenStore, MemoryStore())
