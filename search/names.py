"""The names the entity facets show: each key's most common name, looked up once in a while.

A facet counts keys (search.query); naming its keys by counting key–name pairs in the same search
cost a broad search on 100,000 articles as much again as counting the keys (docs/performance.md),
while a key's most common name changes only as articles come and go. `EntityNames.name`:

1. answers the keys it looked up less than `NAME_TTL_S` ago from memory;
2. looks the others, of all facets, up in one search (`search.query.entity_names_body`);
3. keeps at most `MAX_NAMES`, forgetting the oldest lookups first.

Readers share one `EntityNames` across the API's threads: two threads may look the same key up
at once, which costs a search and changes nothing.
"""

import threading
import time
from collections.abc import Callable

from search.query import entity_names

NAME_TTL_S = 600.0
MAX_NAMES = 10_000

Lookup = Callable[[dict[str, list[str]]], dict]  # a search body's answer, for entity_names_body(keys)


class EntityNames:
    def __init__(self, search: Lookup, clock: Callable[[], float] = time.monotonic) -> None:
        self._search = search
        self._clock = clock
        self._names: dict[tuple[str, str], tuple[str, float]] = {}  # (type, key): (name, when looked up); oldest first
        self._lock = threading.Lock()

    def name(self, keys: dict[str, list[str]]) -> dict[tuple[str, str], str]:
        """The name of each of `keys` (by entity type), by (type, key)."""
        now = self._clock()
        known: dict[tuple[str, str], str] = {}
        missing: dict[str, list[str]] = {}
        for entity_type, of_type in keys.items():
            for key in of_type:
                kept = self._names.get((entity_type, key))
                if kept and now - kept[1] < NAME_TTL_S:
                    known[(entity_type, key)] = kept[0]
                else:
                    missing.setdefault(entity_type, []).append(key)
        if not missing:
            return known
        found = entity_names(self._search(missing), missing)
        with self._lock:
            for pair, name in found.items():
                self._names.pop(pair, None)  # to the end: the newest lookup
                self._names[pair] = (name, now)
            while len(self._names) > MAX_NAMES:
                del self._names[next(iter(self._names))]
        return known | found
