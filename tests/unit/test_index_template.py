"""The index template on both kinds of Elasticsearch: the local node with newsflow's plugin, a full one with analysis-common."""

import json
from typing import Any, cast

import pytest
from elasticsearch import Elasticsearch

from newsflow.errors import ConfigError
from newsflow.folding import STEPS, transliterations
from newsflow.services.analysis_plugin import NAMED_COMPONENTS, PLUGIN_NAME, SOURCE, digest
from newsflow.settings import Settings
from search import kazakh
from search.index import (
    ANALYSIS,
    ANALYSIS_COMMON,
    FOLD_STEPS,
    KEY_NAME,
    LANGUAGE_ANALYZERS,
    MAPPING,
    PLUGIN_FOLDED_WORDS,
    PLUGIN_TYPES,
    TEMPLATE_VERSION,
    analysis,
    analysis_provider,
    by_language,
    entity_fields,
    template,
)

PROVIDERS = [PLUGIN_NAME, ANALYSIS_COMMON]
# What the server core has on both (docs/elasticsearch-local.md), and what each provider adds that the index uses.
CORE = {"standard", "lowercase", "stop", "custom"}
ANALYSIS_COMMON_TYPES = {
    "mapping",
    "stemmer",
    "asciifolding",
    "keyword_repeat",
    "remove_duplicates",
    "simple_pattern_split",
    "pattern_replace",
}
PLUGIN_COMPONENTS = {name for names in json.loads((SOURCE / NAMED_COMPONENTS).read_text()).values() for name in names}


def component_types(settings: dict[str, Any]) -> set[str]:
    return {spec["type"] for kind in ("char_filter", "tokenizer", "filter", "analyzer") for spec in settings[kind].values()}


@pytest.mark.parametrize(
    ("provider", "available"),
    [(PLUGIN_NAME, CORE | PLUGIN_COMPONENTS), (ANALYSIS_COMMON, CORE | ANALYSIS_COMMON_TYPES)],
)
def test_each_variant_uses_only_components_its_cluster_has(provider, available):
    settings = analysis(provider)
    assert component_types(settings) <= available
    for analyzer in settings["analyzer"].values():
        assert analyzer["tokenizer"] in CORE | set(settings["tokenizer"])
        assert set(analyzer["char_filter"]) <= set(settings["char_filter"])
        assert set(analyzer["filter"]) <= set(settings["filter"]) | CORE


def test_the_variants_differ_only_in_the_types_the_plugin_renames_and_its_one_folded_words_tokenizer():
    plugin, common = analysis(PLUGIN_NAME), analysis(ANALYSIS_COMMON)
    assert plugin["analyzer"]["words_and_stems"] == common["analyzer"]["words_and_stems"]
    assert common["analyzer"]["folded"]["filter"] == ["lowercase", *FOLD_STEPS]
    assert plugin["analyzer"]["folded"] == {**common["analyzer"]["folded"], "filter": []}
    assert plugin["tokenizer"] == {"folded_words": {"type": PLUGIN_FOLDED_WORDS}}
    assert common["tokenizer"]["folded_words"]["type"] == "simple_pattern_split"
    for kind in ("char_filter", "filter"):
        assert plugin[kind].keys() == common[kind].keys() - FOLD_STEPS.keys()
        for name, spec in plugin[kind].items():
            assert spec == {
                **common[kind][name],
                "type": PLUGIN_TYPES.get(common[kind][name]["type"], common[kind][name]["type"]),
            }
    assert {*PLUGIN_TYPES.values(), PLUGIN_FOLDED_WORDS} == PLUGIN_COMPONENTS  # every stand-in is used, and only those exist
    assert analysis(ANALYSIS_COMMON) is ANALYSIS


def test_the_plugin_stems_english_and_russian_like_analysis_common():
    stemmers = {spec["language"] for spec in ANALYSIS["filter"].values() if spec["type"] == "stemmer"}
    assert stemmers == {"possessive_english", "english", "russian"}  # the languages StemmerFactory.java knows


def test_kazakh_letters_are_mapped_in_both_cases():
    mappings = ANALYSIS["char_filter"]["kazakh_letters"]["mappings"]
    assert "қ => к" in mappings and "Қ => К" in mappings and "Ә => А" in mappings
    assert len(mappings) == 18


@pytest.mark.parametrize("provider", PROVIDERS)
def test_the_template_carries_its_version_and_analysis(provider):
    body = template(Settings(index_shards=2, index_replicas=1), provider)
    assert body["settings"] == {"number_of_shards": 2, "number_of_replicas": 1, "analysis": analysis(provider)}
    assert body["mappings"]["_meta"] == {"template_version": TEMPLATE_VERSION}


def test_every_analyzer_the_mapping_names_is_defined():
    def analyzers(properties: dict[str, Any]) -> set[str]:
        found = set()
        for spec in properties.values():
            if "analyzer" in spec:
                found.add(spec["analyzer"])
            found |= analyzers(spec.get("fields", {}))
        return found

    assert analyzers(MAPPING["properties"]) == {"words_and_stems", "folded", "standard"}
    assert analyzers(MAPPING["properties"]["by_language"]["properties"]["kk"]["properties"]) == {"kazakh"}
    assert set(ANALYSIS["analyzer"]) == {"words_and_stems", "folded", *LANGUAGE_ANALYZERS.values()}
    properties = MAPPING["properties"]
    assert {name for name, field in properties.items() if field.get("analyzer") == "words_and_stems"} == {"title", "lead", "body"}
    assert {name for name, field in properties.items() if field.get("fields", {}).get("folded")} == {"title", "body"}
    assert properties["text_folded"]["index"] is False  # what title.folded and body.folded index, indexed twice otherwise


def test_the_folded_analyzer_takes_newsflow_folding_s_table_and_steps():
    folded = ANALYSIS["analyzer"]["folded"]
    rules = ANALYSIS["char_filter"][folded["char_filter"][0]]["mappings"]
    assert "Қ => Q" in rules and "ж => zh" in rules and "ü => u" in rules and "\u0301 => " in rules
    assert len(rules) == len(transliterations())
    steps = [ANALYSIS["filter"][name] for name in folded["filter"][1:]]
    assert [(step["pattern"], step["replacement"].replace("$", "\\")) for step in steps] == [
        (pattern.pattern, replacement) for pattern, replacement in STEPS
    ]
    assert folded["filter"][0] == "lowercase" and ANALYSIS["tokenizer"][folded["tokenizer"]]["pattern"] == "[^A-Za-z0-9]+"


def test_stems_are_added_beside_the_words_not_instead_of_them():
    steps = ANALYSIS["analyzer"]["words_and_stems"]["filter"]
    stemmers = [step for step in steps if ANALYSIS["filter"].get(step, {}).get("type") == "stemmer" and "possessive" not in step]
    repeat, once = steps.index("word_and_stem"), steps.index("once")
    assert stemmers and all(repeat < steps.index(stemmer) < once for stemmer in stemmers)
    assert ANALYSIS["filter"]["word_and_stem"]["type"] == "keyword_repeat"
    assert ANALYSIS["filter"]["once"]["type"] == "remove_duplicates"


VERSION = "9.5.4"


class Nodes:
    """Stands in for `Elasticsearch.nodes`: `info` answers with the given nodes of Elasticsearch `VERSION`, whose
    plugins are of this build unless `plugin_version` says otherwise."""

    def __init__(self, *nodes: dict[str, list[str]], plugin_version: str | None = None) -> None:
        self.nodes = nodes
        self.plugin_version = plugin_version or digest(VERSION)

    def info(self, filter_path: str) -> dict:
        def parts(kind: str, names: list[str]) -> list[dict]:
            return [{"name": name, **({"version": self.plugin_version} if kind == "plugins" else {})} for name in names]

        return {
            "nodes": {
                f"node-{n}": {"version": VERSION, **{kind: parts(kind, names) for kind, names in node.items()}}
                for n, node in enumerate(self.nodes)
            }
        }


def cluster(*nodes: dict[str, list[str]], plugin_version: str | None = None) -> Elasticsearch:
    fake = type("FakeElasticsearch", (), {"nodes": Nodes(*nodes, plugin_version=plugin_version)})()
    return cast(Elasticsearch, fake)


def test_a_plugin_of_another_build_is_refused_in_one_line_saying_to_restart_the_node():
    local = {"modules": ["x-pack-core"], "plugins": [PLUGIN_NAME]}
    with pytest.raises(ConfigError) as refused:
        analysis_provider(cluster(local, plugin_version="0123456789abcdef"), Settings())
    assert "another build" in str(refused.value) and "newsflow services down elasticsearch" in str(refused.value)
    assert "\n" not in str(refused.value)


def test_the_provider_is_the_plugin_where_every_node_has_it():
    local = {"modules": ["x-pack-core"], "plugins": [PLUGIN_NAME]}
    assert analysis_provider(cluster(local), Settings()) == PLUGIN_NAME
    full = {"modules": ["analysis-common", "x-pack-core"]}
    assert analysis_provider(cluster(full, full), Settings()) == ANALYSIS_COMMON
    both = {"modules": ["analysis-common"], "plugins": [PLUGIN_NAME]}
    assert analysis_provider(cluster(both, local), Settings()) == PLUGIN_NAME


@pytest.mark.parametrize(
    "nodes",
    [[{"modules": ["x-pack-core"]}], [{"plugins": [PLUGIN_NAME]}, {"modules": ["analysis-common"]}]],
    ids=["neither", "not on every node"],
)
def test_a_cluster_without_either_on_every_node_is_refused_in_one_line_naming_the_setting(nodes):
    settings = Settings(elasticsearch_url="http://search.example:9200")
    with pytest.raises(ConfigError, match=r"^NEWSFLOW_ELASTICSEARCH_URL=http://search.example:9200 has neither") as error:
        analysis_provider(cluster(*nodes), settings)
    assert "\n" not in str(error.value)


def test_an_article_has_fields_by_language_only_in_a_language_with_an_analyzer_of_its_own():
    assert by_language("Шахтада", "Екі кенші", "kk") == {"kk": {"title": "Шахтада", "body": "Екі кенші"}}
    assert by_language("Reforms", "Parliament", "en") == by_language("x", "y", None) == {}
    assert set(LANGUAGE_ANALYZERS) <= set(MAPPING["properties"]["by_language"]["properties"])


def test_an_article_s_entities_fill_names_by_type_and_the_facets_keys_and_key_name_pairs():
    fields = entity_fields([("person", "tkv", "Tokayev"), ("place", "lmt", "Almaty"), ("person", "pt", "Putin")])
    assert fields["people"] == ["Tokayev", "Putin"] and fields["places"] == ["Almaty"] and fields["organizations"] == []
    assert fields["entity_keys"] == {"person": ["tkv", "pt"], "place": ["lmt"], "organization": []}
    assert fields["entity_key_names"]["person"] == [f"tkv{KEY_NAME}Tokayev", f"pt{KEY_NAME}Putin"]
    assert set(fields) <= set(MAPPING["properties"])


def test_the_kazakh_analyzer_runs_search_kazakh_s_steps_in_their_order():
    steps = ANALYSIS["analyzer"]["kazakh"]["filter"]
    assert steps[-len(kazakh.CHAIN) :] == list(kazakh.CHAIN)
    for name, pattern in kazakh.FILTERS.items():
        assert ANALYSIS["filter"][name] == {
            "type": "pattern_replace",
            "pattern": pattern,
            "replacement": kazakh.replacement(name),
        }
    assert {kazakh.russian_letters(word) for word in kazakh.STOPWORDS} == set(ANALYSIS["filter"]["kazakh_stop"]["stopwords"])
