"""An in-memory stand-in for the `news` index, for the unit tests of `search.stories`.

It answers the requests `search.stories` and the indexer's bulk make, and only those, as
Elasticsearch does where it matters to stories:

- searches (`msearch`, `search`) see the documents as of the last refresh; `mget` sees every
  acknowledged write (realtime), so a test can hold back what one indexer sees of another's writes,
  and `after_next_search` lets another indexer write between a search and what follows it;
- a bulk `index` with an external version is refused (409) unless newer; an `update` with
  `if_seq_no` is refused (409) if the document changed since; every write takes a new seq_no;
- queries: `terms`; a search's page: `size`, `sort` by `article_id`, `search_after`, and the
  `docvalue_fields` asked (as lists under `fields`).
"""

import copy
from collections.abc import Callable

from search.index import document
from search.stories import Plan
from transform.contract import NormalizedArticle

INDEX = "news-000001"


class FakeIndices:
    def __init__(self, index: "FakeIndex") -> None:
        self._index = index

    def refresh(self, index: str) -> None:
        self._index.refresh()


class FakeIndex:
    def __init__(self) -> None:
        self.documents: dict[str, dict] = {}  # id → {"source", "seq_no", "version"}
        self.searchable: dict[str, dict] = {}
        self.indices = FakeIndices(self)
        self._seq_no = 0
        self.requests: list[str] = []  # the name of each request, in order
        self.after_next_search: Callable[[], None] | None = None  # run once, right after the next `search` answered

    def refresh(self) -> None:
        self.searchable = copy.deepcopy(self.documents)

    def source(self, article_id: str) -> dict:
        return self.documents[article_id]["source"]

    def _write(self, article_id: str, source: dict, version: int) -> None:
        self._seq_no += 1
        self.documents[article_id] = {"source": source, "seq_no": self._seq_no, "version": version}

    # The requests

    def msearch(self, searches: list[dict]) -> dict:
        self.requests.append("msearch")
        return {"responses": [self._search(body) for body in searches[1::2]]}

    def search(self, index: str, query: dict, size: int, seq_no_primary_term: bool, source_includes: list[str]) -> dict:
        self.requests.append("search")
        hits = [
            {
                "_index": INDEX,
                "_id": article_id,
                "_seq_no": stored["seq_no"],
                "_primary_term": 1,
                "_source": {name: stored["source"].get(name) for name in source_includes},
            }
            for article_id, stored in sorted(self.searchable.items())
            if matches(query, stored["source"])
        ]
        if self.after_next_search:
            run, self.after_next_search = self.after_next_search, None
            run()
        return {"hits": {"hits": hits[:size]}}

    def mget(self, index: str, ids: list[str], source_includes: list[str]) -> dict:
        self.requests.append("mget")
        docs = []
        for article_id in ids:
            stored = self.documents.get(article_id)
            if stored is None:
                docs.append({"_index": INDEX, "_id": article_id, "found": False})
            else:
                source = {name: stored["source"].get(name) for name in source_includes}
                docs.append({"_index": INDEX, "_id": article_id, "found": True, "_source": source})
        return {"docs": docs}

    def bulk(self, operations: list[dict], refresh: bool = False) -> dict:
        self.requests.append("bulk")
        items = []
        for action, body in zip(operations[::2], operations[1::2], strict=True):
            ((kind, meta),) = action.items()
            stored = self.documents.get(meta["_id"])
            if kind == "index":
                if stored and stored["version"] >= meta["version"]:
                    items.append({kind: {"_id": meta["_id"], "status": 409}})
                    continue
                self._write(meta["_id"], copy.deepcopy(body), meta["version"])
            elif stored is None:
                items.append({kind: {"_id": meta["_id"], "status": 404}})
                continue
            elif "if_seq_no" in meta and meta["if_seq_no"] != stored["seq_no"]:
                items.append({kind: {"_id": meta["_id"], "status": 409}})
                continue
            else:
                self._write(meta["_id"], {**stored["source"], **body["doc"]}, stored["version"] + 1)
            items.append({kind: {"_id": meta["_id"], "status": 200}})
        if refresh:
            self.refresh()
        return {"items": items}

    def _search(self, body: dict) -> dict:
        assert body["sort"] == ["article_id"]
        found = sorted(
            (article_id, stored["source"])
            for article_id, stored in self.searchable.items()
            if matches(body["query"], stored["source"]) and (not body.get("search_after") or [article_id] > body["search_after"])
        )
        hits = [
            {
                "_id": article_id,
                "sort": [article_id],
                "fields": {field: found for field in body["docvalue_fields"] if (found := values(source, field))},
            }
            for article_id, source in found[: body["size"]]
        ]
        return {"hits": {"hits": hits}}


def values(source: dict, field: str) -> list:
    value = source.get(field)
    return value if isinstance(value, list) else [] if value is None else [value]


def matches(query: dict, source: dict) -> bool:
    ((kind, spec),) = query.items()
    if kind != "terms":
        raise NotImplementedError(kind)
    ((field, wanted),) = spec.items()
    return bool(set(values(source, field)) & set(wanted))


def written(index: FakeIndex, plan: Plan, *articles: NormalizedArticle) -> list[NormalizedArticle]:
    """What the indexer's bulk does between `plan` and `settle`: each article indexed with its planned story,
    at version 1 (a re-delivery meets a conflict), then a refresh. Returns the articles."""
    operations: list[dict] = []
    for article in articles:
        operations += [
            {"index": {"_index": INDEX, "_id": article.article_id, "version": 1, "version_type": "external"}},
            document(article, plan.stories[article.article_id], article.first_seen_at),
        ]
    index.bulk(operations, refresh=True)
    return list(articles)
