"""Stories: near-duplicates under their story's first article, across batches, indexers and late originals.

A story is the set of articles linked by shared near-duplicate band keys (two articles sharing a
key of `near_duplicate_keys` are near-duplicates; a story holds the near-duplicates of its
articles, transitively). Its first article is the earliest by `order`: the earliest published,
then the first seen, then the smallest id. Every article of a story carries `story_id`, the first
article's id, and every one but the first `duplicate_of`, the same id. An earlier article
arriving later (an original crawled after its copies), or one that links two stories, makes a
new first: the documents carrying the old story id are re-pointed to it (a merge).

The indexer calls `Stories.plan(batch)` before it writes a batch and `Stories.settle(plan, written)`
once the written articles are searchable (its bulk request refreshes):

1. Look up the stories of the indexed articles carrying each band key of the batch: one search,
   which returns each such article's story id and band keys from doc values, nothing of its source
   (paged by article id, for a batch that meets big stories). An aggregation of story ids per key
   would send less back but cost Elasticsearch several times more (bench/index.py).
2. Follow each story id found to its story's first article with a realtime `mget`, which sees
   what no search sees yet: a story re-pointed since leads to the story it joined.
3. Join the batch's articles and the stories found into components: linked by a shared key, an
   article and a story, or two of the batch's articles. A component's first is the earliest of its
   batch articles and story firsts; it is the story of its batch articles, and every other story id
   found in the component is merged into it.
   — the indexer writes the batch —
4. Re-point each merged story: refresh, search the documents carrying its id, update each to the
   new id under `if_seq_no`/`if_primary_term` (a document written meanwhile meets a conflict and is
   found again); until a search finds none left and each target is still its story's first (it
   follows a target that another indexer merged meanwhile).
5. Check: search again, as in step 1, the indexed articles that share a band key with the batch's
   written articles, and keep those that carry another story id than theirs: what another indexer
   wrote while this one was between steps 1 and 4. Merge what it finds (steps 2–4) and check
   again, until the check finds nothing.

Why this is consistent with several indexers (the group's members, each on its own partitions,
while one story's articles land on any partition), with no lock and no second write per article:

- Write, then check: an indexer looks for the others' articles (step 5) only once its own are
  searchable. Of two indexers writing near-duplicates at the same time, the one whose check comes
  second finds the other's article, since a search after a refresh sees every write acknowledged
  before it; so one of them always sees the pair and merges it.
- Merges are deterministic and go one way: the order is a fact of the documents, so indexers
  merging the same stories pick the same first, and a story id only ever moves to an earlier
  article. Two indexers re-pointing the same documents converge.
- Updates are optimistic: a re-pointing applies only to the document as it was found, so a newer
  version written meanwhile is never overwritten; and it goes on until a search after a refresh
  finds no document left with the old id. An article written with the old id during a merge is
  found by the merger's last search, or, written after it, by its own indexer's check (its
  neighbours then carry the new id).

Why not the alternatives: a story document per story or a register per band key would add a write
per article (sixteen, for the keys) and a second index to migrate; a story id fixed when the story
is founded would not name its first article; and the local Elasticsearch has no
`_update_by_query` (it lacks the reindex module). The cost: a refresh per batch (Elasticsearch
refreshes every second anyway), the check's search, which finds no other story unless another
indexer wrote into the batch's stories meanwhile, and in a merge one partial update per re-pointed
document, which Elasticsearch re-indexes whole: rare in a real feed (an original crawled after its
copies, an article linking two stories).
"""

import logging
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from elasticsearch import Elasticsearch

from newsflow.errors import Backpressure
from newsflow.settings import Settings
from search.refusals import described, refused_for_now
from transform.contract import NormalizedArticle

log = logging.getLogger(__name__)

Order = tuple[datetime, datetime, str]  # (published, first seen, id): a story's first is the least
LATEST = datetime.max.replace(tzinfo=UTC)
STORY_FIELDS = ["story_id", "published_at", "first_seen_at"]
# Band keys one search asks for: a terms query's most (index.max_terms_count).
KEYS_PER_SEARCH = 65_536
PAGE = 10_000  # documents of a story look-up's page, or of one round of re-pointing: a search's largest page
# Checks after which a batch's stories are left as they are (step 5), logged: each finds what other
# indexers wrote meanwhile, so more than two mean they keep writing into these very stories.
MAX_CHECKS = 10


def order(article: NormalizedArticle) -> Order:
    """Which article of a story came first: the earliest published (a copy is published after
    its original, whatever order we crawl them in); then the first seen; then the id."""
    return (article.published_at.value if article.published_at else LATEST, article.first_seen_at, article.article_id)


def order_of_source(article_id: str, source: dict) -> Order:
    """`order` of an indexed article, from its document."""
    published = source.get("published_at")
    return (
        datetime.fromisoformat(published) if published else LATEST,
        datetime.fromisoformat(source["first_seen_at"]),
        article_id,
    )


@dataclass(frozen=True)
class Plan:
    """Where a batch's articles go: `stories`, each article's story (its first article's id);
    `firsts`, the order of each of those firsts; `merges`, each story id that indexed documents
    carry and that joins another story → that story's id."""

    stories: dict[str, str]
    firsts: dict[str, Order]
    merges: dict[str, str]


class Stories:
    """The stories of the index behind `settings.index_alias`; `backpressure(problem)` makes the
    exception raised when Elasticsearch refuses a story request for now."""

    def __init__(self, es: Elasticsearch, settings: Settings, backpressure: Callable[[str], Backpressure]) -> None:
        self.es = es
        self.alias = settings.index_alias
        self._backpressure = backpressure

    def plan(self, batch: list[NormalizedArticle]) -> Plan:
        """Steps 1–3: each article's story, from the stories indexed under its band keys."""
        nodes = {article.article_id: (order(article), set(article.near_duplicate_keys)) for article in batch}
        return self._resolve(nodes, self._stories_by_key({key for _, keys in nodes.values() for key in keys}))

    def settle(self, plan: Plan, written: list[NormalizedArticle]) -> None:
        """Steps 4 and 5 for the articles written as `plan` says, once they are searchable."""
        written_ids = {article.article_id for article in written}
        if any(story in plan.stories and story not in written_ids for story in plan.stories.values()):
            # Elasticsearch refused a story's first for good: the story needs another first, and its
            # written articles carry a story id of no document, which the new plan merges away.
            plan = self.plan(written)
        groups: dict[str, tuple[Order, set[str]]] = {}  # story → (its first's order, the keys the batch gave it)
        for article in written:
            story = plan.stories[article.article_id]
            groups.setdefault(story, (plan.firsts[story], set()))[1].update(article.near_duplicate_keys)
        merges = plan.merges
        for _ in range(MAX_CHECKS):
            if merges:
                groups = _regrouped(groups, *self._repoint(merges))
            conflicts = self._conflicts(groups)
            if not conflicts:
                return
            own = {key: {story} for story, (_, keys) in groups.items() for key in keys}
            merges = self._resolve(groups, {key: own.get(key, set()) | stories for key, stories in conflicts.items()}).merges
        log.warning(
            "stories: %d stories of this batch still share band keys with others after %d checks; "
            "the next article indexed into them settles them",
            len(groups),
            MAX_CHECKS,
        )

    def _stories_by_key(self, keys: Collection[str]) -> dict[str, set[str]]:
        """For each of these band keys, the story ids of the indexed articles carrying it; the
        first page of each search (KEYS_PER_SEARCH keys) in one msearch."""
        wanted, ordered = set(keys), sorted(keys)
        chunks = [ordered[start : start + KEYS_PER_SEARCH] for start in range(0, len(ordered), KEYS_PER_SEARCH)]
        found: dict[str, set[str]] = {}
        pending: list[tuple[list[str], list | None]] = [(chunk, None) for chunk in chunks]
        while pending:
            body: list[dict] = []
            for chunk, after in pending:
                page = {
                    "size": PAGE,
                    "query": {"terms": {"near_duplicate_keys": chunk}},
                    "_source": False,
                    "docvalue_fields": ["story_id", "near_duplicate_keys"],
                    "sort": ["article_id"],
                    "track_total_hits": False,
                }
                if after is not None:
                    page["search_after"] = after
                body += [{"index": self.alias}, page]
            responses = self.es.msearch(searches=body)["responses"]
            following = []
            for (chunk, _), response in zip(pending, responses, strict=True):
                if "error" in response:
                    if refused_for_now(response["status"], response["error"].get("type")):
                        raise self._backpressure(f"story search refused for now: {described(response)}")
                    raise RuntimeError(f"story search failed: {described(response)}")
                hits = response["hits"]["hits"]
                for hit in hits:
                    fields = hit.get("fields", {})
                    story = fields.get("story_id", [hit["_id"]])[0]  # none: a document of before stories
                    for key in wanted.intersection(fields.get("near_duplicate_keys", ())):
                        found.setdefault(key, set()).add(story)
                if len(hits) == PAGE:
                    following.append((chunk, hits[-1]["sort"]))
            pending = following
        return found

    def _conflicts(self, groups: dict[str, tuple[Order, set[str]]]) -> dict[str, set[str]]:
        """Step 5: for each band key of the groups, the story ids other than its group's that
        indexed articles carrying it have. The search is step 1's, which finds the batch's own
        articles too: cheaper than a query that leaves them out, a clause per story."""
        group_of = {key: story for story, (_, keys) in groups.items() for key in keys}
        found = self._stories_by_key(group_of.keys())
        return {key: others for key, stories_found in found.items() if (others := stories_found - {group_of[key]})}

    def _resolve(self, nodes: dict[str, tuple[Order, set[str]]], found: dict[str, set[str]]) -> Plan:
        """Steps 2 and 3: the stories of `nodes` (id → (order, band keys): articles to place, or
        stories to check), joined with the indexed stories `found` under their keys."""
        carried = {story for under_key in found.values() for story in under_key}
        points, orders = self._follow(carried - nodes.keys(), stop=nodes.keys())
        orders.update({node: node_order for node, (node_order, _) in nodes.items()})
        carried |= points.keys()
        head = {story: _first(story, points, nodes.keys(), orders) for story in carried | nodes.keys()}
        links = _Links()
        for node, (_, keys) in nodes.items():
            for key in keys:
                links.join(("story", node), ("key", key))
        for key, under_key in found.items():
            for story in under_key:
                links.join(("key", key), ("story", head[story]))
        earliest: dict[tuple[str, str], str] = {}
        for candidate in set(head.values()):
            component = links.find(("story", candidate))
            if component not in earliest or orders[candidate] < orders[earliest[component]]:
                earliest[component] = candidate
        story_of = {story: earliest[links.find(("story", first))] for story, first in head.items()}
        placed = {node: story_of[node] for node in nodes}
        merges = {story: story_of[story] for story in carried if story_of[story] != story}
        return Plan(placed, {first: orders[first] for first in placed.values()}, merges)

    def _follow(self, ids: Iterable[str], stop: Iterable[str] = ()) -> tuple[dict[str, str], dict[str, Order]]:
        """Step 2: the story id each of `ids` carries, and those ids' in turn, until a first (an
        article that carries its own id, or none: gone) or an id of `stop`; and each one's order."""
        points: dict[str, str] = {}
        orders: dict[str, Order] = {}
        stop = set(stop)
        pending = set(ids) - stop
        while pending:
            for doc in self.es.mget(index=self.alias, ids=sorted(pending), source_includes=STORY_FIELDS)["docs"]:
                if "error" in doc:  # a shard that does not answer now
                    raise self._backpressure(f"story look-up refused for now: {described(doc)}")
                if doc["found"]:
                    points[doc["_id"]] = doc["_source"]["story_id"]
                    orders[doc["_id"]] = order_of_source(doc["_id"], doc["_source"])
                else:  # a story whose first is gone: any of its articles comes before it
                    points[doc["_id"]] = doc["_id"]
                    orders[doc["_id"]] = (LATEST, LATEST, doc["_id"])
            pending = {story for story in points.values() if story not in points} - stop
        return points, orders

    def _repoint(self, merges: dict[str, str]) -> tuple[dict[str, str], dict[str, Order]]:
        """Step 4: the documents carrying a story id of `merges` carry the story it joins; returns
        the merges as they ended (a target may have joined an earlier story meanwhile) and the
        order of each story joined."""
        while True:
            targets = set(merges.values())
            points, orders = self._follow(targets)
            # A target carrying a story id being merged is to be re-pointed itself (a first whose
            # article was written with the old id); only one carrying another id has moved on.
            points = {article: story for article, story in points.items() if story not in merges}
            heads = {target: _first(target, points, (), orders) for target in targets}
            merges = {old: heads[new] for old, new in merges.items() if heads[new] != old}
            merges |= {target: head for target, head in heads.items() if head != target}
            self.es.indices.refresh(index=self.alias)
            carrying = self.es.search(
                index=self.alias,
                query={"terms": {"story_id": sorted(merges)}},
                size=PAGE,
                seq_no_primary_term=True,
                source_includes=["story_id"],
            )["hits"]["hits"]
            if not carrying:
                return merges, {head: orders[head] for head in merges.values()}
            indexed_at = datetime.now(UTC).isoformat()
            operations: list[dict] = []
            for hit in carrying:
                story = merges[hit["_source"]["story_id"]]
                condition = {"if_seq_no": hit["_seq_no"], "if_primary_term": hit["_primary_term"]}
                operations += [
                    {"update": {"_index": self.alias, "_id": hit["_id"], **condition}},
                    {
                        "doc": {
                            "story_id": story,
                            "duplicate_of": story if story != hit["_id"] else None,
                            "indexed_at": indexed_at,
                        }
                    },
                ]
            log.info("stories: re-pointing %d documents carrying %d merged story ids", len(carrying), len(merges))
            for item in self.es.bulk(operations=operations)["items"]:
                result = item["update"]
                if result["status"] < 300 or result["status"] in (404, 409):  # 409: changed since; found again. 404: gone
                    continue
                if refused_for_now(result["status"], result.get("error", {}).get("type")):
                    raise self._backpressure(f"story updates refused for now, first: {described(result)}")
                raise RuntimeError(f"story update refused: {described(result)}")


class _Links:
    """Union-find over band keys and story ids: which are linked, directly or through others."""

    def __init__(self) -> None:
        self._parent: dict[tuple[str, str], tuple[str, str]] = {}

    def find(self, node: tuple[str, str]) -> tuple[str, str]:
        while (parent := self._parent.get(node, node)) != node:
            self._parent[node] = self._parent.get(parent, parent)  # halve the path
            node = parent
        return node

    def join(self, one: tuple[str, str], other: tuple[str, str]) -> None:
        self._parent[self.find(one)] = self.find(other)


def _first(story: str, points: dict[str, str], stop: Collection[str], orders: dict[str, Order]) -> str:
    """Where following `story`'s pointers ends: a first, or an id of `stop`. On a cycle (possible
    only if an article's order changed between two merges), the earliest of the cycle."""
    path = [story]
    while path[-1] not in stop and points.get(path[-1], path[-1]) != path[-1]:
        following = points[path[-1]]
        if following in path:
            return min(path[path.index(following) :], key=orders.__getitem__)
        path.append(following)
    return path[-1]


def _regrouped(
    groups: dict[str, tuple[Order, set[str]]], merges: dict[str, str], orders: dict[str, Order]
) -> dict[str, tuple[Order, set[str]]]:
    """The batch's groups after `merges`: a merged story's keys go to the story it joined."""
    regrouped: dict[str, tuple[Order, set[str]]] = {}
    for story, (story_order, keys) in groups.items():
        joined = merges.get(story, story)
        regrouped.setdefault(joined, (orders.get(joined, story_order), set()))[1].update(keys)
    return regrouped
