"""search.names.EntityNames: which keys it looks up, and when, without Elasticsearch."""

from search import names
from search.index import KEY_NAME
from search.names import NAME_TTL_S, EntityNames


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def answering(asked: list[dict[str, list[str]]]):
    """A search that names each key `<key> name`, recording what it was asked."""

    def search(keys: dict[str, list[str]]) -> dict:
        asked.append(keys)
        return {
            "aggregations": {
                f"{entity_type}.{n}": {"name": {"buckets": [{"key": f"{key}{KEY_NAME}{key} name", "doc_count": 1}]}}
                for entity_type, of_type in keys.items()
                for n, key in enumerate(of_type)
            }
        }

    return search


def test_the_keys_of_every_facet_are_looked_up_in_one_search_then_answered_from_memory():
    asked: list[dict[str, list[str]]] = []
    entity_names = EntityNames(answering(asked), clock=Clock())
    keys = {"person": ["tkv"], "place": ["almti", "astna"], "organization": []}
    named = {("person", "tkv"): "tkv name", ("place", "almti"): "almti name", ("place", "astna"): "astna name"}
    assert entity_names.name(keys) == named
    assert entity_names.name(keys) == named
    assert asked == [{"person": ["tkv"], "place": ["almti", "astna"]}]


def test_only_the_keys_not_known_are_looked_up():
    asked: list[dict[str, list[str]]] = []
    entity_names = EntityNames(answering(asked), clock=Clock())
    entity_names.name({"person": ["tkv"]})
    assert entity_names.name({"person": ["tkv", "pt"], "place": ["tkv"]})[("place", "tkv")] == "tkv name"
    assert asked[1:] == [{"person": ["pt"], "place": ["tkv"]}]  # a key of another type is another entity


def test_a_name_is_looked_up_again_once_it_is_older_than_the_ttl():
    asked: list[dict[str, list[str]]] = []
    clock = Clock()
    entity_names = EntityNames(answering(asked), clock=clock)
    entity_names.name({"person": ["tkv"]})
    clock.now = NAME_TTL_S - 1
    entity_names.name({"person": ["tkv"]})
    clock.now = NAME_TTL_S
    entity_names.name({"person": ["tkv"]})
    assert len(asked) == 2


def test_the_oldest_lookups_are_forgotten_first(monkeypatch):
    monkeypatch.setattr(names, "MAX_NAMES", 2)
    asked: list[dict[str, list[str]]] = []
    clock = Clock()
    entity_names = EntityNames(answering(asked), clock=clock)
    for key in ("a", "b"):
        entity_names.name({"person": [key]})
        clock.now += 1
    clock.now = NAME_TTL_S + 0.5  # a's lookup is stale, b's is not
    entity_names.name({"person": ["a"]})  # looked up again: now the newest
    entity_names.name({"person": ["c"]})  # b is forgotten
    asked.clear()
    entity_names.name({"person": ["a", "b", "c"]})
    assert asked == [{"person": ["b"]}]
