"""The `news` index: its template, its creation, and migrations to a new physical index.

Readers and the indexer use the alias (`NEWSFLOW_INDEX_ALIAS`, default `news`); the documents
live in a physical index `news-000001`, `news-000002`, ... made from the index template.

`title`, `lead` and `body` are analyzed by `words_and_stems`, which indexes each word as it is
and, at the same position, its stem, so that a search finds inflected forms and still ranks the
form it was given first (it matches twice there). `authors.text` keeps the `standard` analyzer
(names are not stemmed). The steps of `words_and_stems`:

1. Kazakh letters become the letters Russian spelling writes for them (Тоқаев → Токаев).
2. The standard tokenizer; English possessives dropped (parliament's → parliament); lower case.
3. English and Russian stop words dropped; accents folded (Türkiye → turkiye).
4. Each word repeated, and the copy stemmed: English words by Porter (reforms → reform),
   Russian ones by Snowball (реформы, реформой → реформ). Each stemmer changes only words of
   its own script, so one analyzer serves articles in either language, whatever language the
   detector labelled them with.
5. A Russian adjective of a place loses its -ск- (карагандинск, the stem of Карагандинской →
   караганд, the stem of Караганда; российск → росс), on the word and its stem alike. A stem
   equal to its word is dropped.

English and Russian share `title` and `body`: their stemmers never touch each other's words, and
an article of either language names people and places in both scripts. A language whose words a
script's stemmer would get wrong has fields of its own, `by_language.<code>.title` and `.body`,
analyzed by its analyzer (`LANGUAGE_ANALYZERS`); `document` fills those of the article's language
alone, so they cost nothing on the articles of other languages. They hold stems only: the words
are in `title` and `body`. Kazakh is the one so far, by `kazakh`:

1. Kazakh letters as in `words_and_stems`; the standard tokenizer; lower case; Kazakh stop words.
2. search.kazakh's light stemmer, whose steps its module lists (шахтадағы → шахта, бекеттердің →
   бекет), in four `pattern_replace` filters.

`title.folded` and `body.folded` are analyzed by `folded`, which is `newsflow.folding.fold` in
Elasticsearch, so that the query finds a name's other spellings and the highlighter marks them in
the text (`matched_fields`); `text_folded`, the same tokens that transform wrote, is kept in the
documents but not indexed twice. The steps of `folded`:

1. Each letter of the scripts newsflow meets replaced as anyascii writes it (Тоқаев → Toqaev,
   Щ → Shch, a combining accent → nothing), the offsets kept on the original text.
2. Words split at whatever is not an ASCII letter or digit; lower case.
3. fold's steps (`FOLD_STEPS`): the romanization variants, then the consonant skeleton (→ tkv).

A full Elasticsearch (docker compose) provides these components in its analysis-common module;
the local integ-test distribution lacks that module and gets them from newsflow's analysis plugin
(newsflow/services/analysis_plugin.py) under other names, `PLUGIN_TYPES`, and one tokenizer,
`PLUGIN_FOLDED_WORDS`, for the whole of `folded` but its char filter (the words, lower case and
`FOLD_STEPS`, whose chain of regular expressions is several times slower):
`analysis()` makes that difference, and `put_template` asks the cluster which of the two it has.

The template carries `TEMPLATE_VERSION`, and each index records the version it was made from:
`create_index` migrates an index of an older version (a mapping change that adding fields cannot
express, such as an analyzer, or a field every document must have, such as `story_id`) to a new
one. `outdated` says whether the index should be rebuilt (the news_reindex DAG's trigger asks it);
`migrate` keeps the old index for a while, and `drop_retired` deletes it once that time has passed.

Entities are kept in `entities` (each one's type, key and name, in the source only: not indexed)
and indexed twice by type on the article: `entity_keys.<type>` and `entity_key_names.<type>` (its
key, then `KEY_NAME`, then its name), for the API's filters, its facets and their names; `people`,
`places` and `organizations`, the display names as plain keywords, for Kibana.
"""

import re
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, cast

from elasticsearch import BadRequestError, Elasticsearch, NotFoundError, helpers

from newsflow import folding
from newsflow.errors import ConfigError, Failure
from newsflow.services.analysis_plugin import PLUGIN_NAME, digest
from newsflow.settings import Settings
from search import kazakh
from transform.contract import NormalizedArticle

TEMPLATE_VERSION = 8  # 1: the standard analyzer only; 2: words_and_stems; 3: entities; 4: folded sub-fields;
# 5: story_id on every document; 6: Russian place adjectives, Kazakh fields; 7: entity keys and names for the facets;
# 8: entities no longer nested (the filters on the entity keys)

ANALYSIS_COMMON = "analysis-common"  # the module of a full Elasticsearch that has the components
# analysis-common's component types the index uses, and their stand-ins in newsflow's plugin (the same
# settings, the same tokens): all that differs between the local node and a full Elasticsearch.
PLUGIN_TYPES = {
    "mapping": "newsflow_mapping",
    "stemmer": "newsflow_stemmer",
    "asciifolding": "newsflow_asciifolding",
    "keyword_repeat": "newsflow_keyword_repeat",
    "remove_duplicates": "newsflow_remove_duplicates",
    "pattern_replace": "newsflow_pattern_replace",
}

JAVA_GROUP = re.compile(r"\\(\d)")
# The plugin's one tokenizer for `folded`'s tokenizer and filters (the words, lower case, FOLD_STEPS): the
# same tokens in one pass over the text, without a regular expression per step.
PLUGIN_FOLDED_WORDS = "newsflow_folded_words"

# newsflow.folding's steps after the transliteration, as pattern_replace filters (Java writes a group $1, not \\1).
FOLD_STEPS = {
    f"fold_step_{n}": {"type": "pattern_replace", "pattern": pattern.pattern, "replacement": JAVA_GROUP.sub(r"$\1", replacement)}
    for n, (pattern, replacement) in enumerate(folding.STEPS, start=1)
}

ANALYSIS: dict[str, Any] = {  # in analysis-common's terms; `analysis()` gives it for a cluster
    "char_filter": {
        "kazakh_letters": {
            "type": "mapping",
            "mappings": [
                f"{source} => {target}"
                for letter, russian in kazakh.KAZAKH_LETTERS.items()
                for source, target in ((letter, russian), (letter.upper(), russian.upper()))
            ],
        },
        "transliteration": {
            "type": "mapping",
            "mappings": [f"{source} => {target}" for source, target in folding.transliterations().items()],
        },
    },
    "tokenizer": {
        # newsflow.folding.WORD, on text not lower-cased yet (a Lucene regular expression)
        "folded_words": {"type": "simple_pattern_split", "pattern": "[^A-Za-z0-9]+"},
    },
    "filter": {
        "english_possessive": {"type": "stemmer", "language": "possessive_english"},
        # One filter for both lists: each filter in the chain costs every word a pass (two took a quarter as
        # long as the standard analyzer's whole work on the benchmark pages).
        "english_and_russian_stop": {"type": "stop", "stopwords": ["_english_", "_russian_"]},
        "english_stemmer": {"type": "stemmer", "language": "english"},
        "russian_stemmer": {"type": "stemmer", "language": "russian"},
        "russian_place_adjectives": {
            "type": "pattern_replace",
            "pattern": "^([а-яё]{4,}?)(?:инск|ийск|йск|ск)$",
            "replacement": "$1",
        },
        "kazakh_stop": {"type": "stop", "stopwords": sorted({kazakh.russian_letters(word) for word in kazakh.STOPWORDS})},
        **{
            name: {"type": "pattern_replace", "pattern": pattern, "replacement": kazakh.replacement(name)}
            for name, pattern in kazakh.FILTERS.items()
        },
        "accents": {"type": "asciifolding"},
        "word_and_stem": {"type": "keyword_repeat"},
        "once": {"type": "remove_duplicates"},
        **FOLD_STEPS,
    },
    "analyzer": {
        "words_and_stems": {
            "type": "custom",
            "char_filter": ["kazakh_letters"],
            "tokenizer": "standard",
            "filter": [
                "english_possessive",
                "lowercase",
                "english_and_russian_stop",
                "accents",
                "word_and_stem",
                "english_stemmer",
                "russian_stemmer",
                "russian_place_adjectives",
                "once",
            ],
        },
        "kazakh": {
            "type": "custom",
            "char_filter": ["kazakh_letters"],
            "tokenizer": "standard",
            "filter": ["lowercase", "kazakh_stop", *kazakh.CHAIN],
        },
        "folded": {
            "type": "custom",
            "char_filter": ["transliteration"],
            "tokenizer": "folded_words",
            "filter": ["lowercase", *FOLD_STEPS],
        },
    },
}

TEXT = {"type": "text", "analyzer": "words_and_stems"}
FOLDED = {"type": "text", "analyzer": "folded"}
NAMES = {"type": "text", "analyzer": "standard"}
KEYWORD = {"type": "keyword"}
# The languages with fields of their own (`by_language`), and their analyzers.
LANGUAGE_ANALYZERS = {"kk": "kazakh"}
DATE = {"type": "date"}

ENTITY_FIELDS = {"person": "people", "place": "places", "organization": "organizations"}  # by entity type
KEY_NAME = "\u001f"  # between an entity's key and its name in `entity_key_names`

MAPPING: dict[str, Any] = {  # JSON as Elasticsearch takes it
    "dynamic": "strict",
    "_meta": {"template_version": TEMPLATE_VERSION},
    "properties": {
        "schema_version": {"type": "integer"},
        "article_id": KEYWORD,
        "article_number": {"type": "long"},  # see article_number()
        "source_id": KEYWORD,
        "url": KEYWORD,
        "canonical_url": KEYWORD,
        "site_name": KEYWORD,
        "title": {**TEXT, "fields": {"keyword": {"type": "keyword", "ignore_above": 512}, "folded": FOLDED}},
        "authors": {**KEYWORD, "fields": {"text": NAMES}},
        "lead": TEXT,
        # No offsets in the postings, though the highlighter must then analyse each hit's body again with both
        # analyzers: they made searches a fifth to a third faster but indexing 1.85x instead of 1.49x version 1's CPU
        # (docs/performance.md).
        "body": {**TEXT, "fields": {"folded": FOLDED}},
        "language": KEYWORD,
        "word_count": {"type": "integer"},
        "published_at": DATE,
        "published_at_source": KEYWORD,
        "modified_at": DATE,
        "modified_at_source": KEYWORD,
        "first_seen_at": DATE,
        "fetched_at": DATE,
        "indexed_at": DATE,
        "text_folded": {"type": "text", "index": False},  # kept as transform wrote it; title.folded and body.folded are searched
        "content_hash": KEYWORD,
        "near_duplicate_keys": KEYWORD,
        "duplicate_of": KEYWORD,
        # In the source alone, for the fields below serve every search: nested, an article naming 16 entities was 17
        # documents of Lucene, which every search had to skip (bench/search.py's p99 on fresh builds of 100,000
        # articles: 54 ms, 41 without).
        "entities": {"type": "object", "enabled": False},
        **{field: KEYWORD for field in ENTITY_FIELDS.values()},
        # The filters' and facets' (search.query, search.names): an entity's key, and its key and name, by type, on the
        # article itself, where counting them costs what counting sources does; through nested entities it cost a
        # broad search 90 ms of 105 on 100,000 articles.
        **{
            field: {"properties": {entity_type: KEYWORD for entity_type in ENTITY_FIELDS}}
            for field in ("entity_keys", "entity_key_names")
        },
        "story_id": KEYWORD,  # search.stories: the id of the story's first article, its own on that one
        "by_language": {
            "properties": {
                code: {
                    "properties": {
                        "title": {"type": "text", "analyzer": analyzer},
                        "body": {"type": "text", "analyzer": analyzer},
                    }
                }
                for code, analyzer in LANGUAGE_ANALYZERS.items()
            }
        },
    },
}


def analysis(provider: str) -> dict[str, Any]:
    """`ANALYSIS` for a cluster whose analysis components come from `provider` (see `analysis_provider`)."""
    if provider == ANALYSIS_COMMON:
        return ANALYSIS

    def from_plugin(components: dict[str, dict]) -> dict[str, dict]:
        return {name: {**spec, "type": PLUGIN_TYPES.get(spec["type"], spec["type"])} for name, spec in components.items()}

    filters = {name: spec for name, spec in ANALYSIS["filter"].items() if name not in FOLD_STEPS}
    folded = {**ANALYSIS["analyzer"]["folded"], "filter": []}
    return {
        "char_filter": from_plugin(ANALYSIS["char_filter"]),
        "tokenizer": {"folded_words": {"type": PLUGIN_FOLDED_WORDS}},
        "filter": from_plugin(filters),
        "analyzer": {**ANALYSIS["analyzer"], "folded": folded},
    }


def analysis_provider(es: Elasticsearch, settings: Settings) -> str:
    """`PLUGIN_NAME` if every node has newsflow's analysis plugin, else `ANALYSIS_COMMON` if every node has that module.

    A plugin of another build than this newsflow's (`analysis_plugin.digest`) may lack components the
    template names, and Elasticsearch's refusal would name one of them, not the cause: it is refused here."""
    fields = "nodes.*.version,nodes.*.plugins.name,nodes.*.plugins.version,nodes.*.modules.name"
    nodes = es.nodes.info(filter_path=fields)["nodes"].values()
    restart = "restart it (`newsflow services down elasticsearch`, then `newsflow services up`)"
    for provider in (PLUGIN_NAME, ANALYSIS_COMMON):
        if all(provider in {part["name"] for part in [*node.get("plugins", []), *node.get("modules", [])]} for node in nodes):
            if provider == PLUGIN_NAME and any(_plugin_version(node) != digest(node["version"]) for node in nodes):
                raise ConfigError(
                    f"NEWSFLOW_ELASTICSEARCH_URL={settings.elasticsearch_url} runs a {PLUGIN_NAME} plugin of another "
                    f"build than this newsflow's, which may lack analysis components the index needs: {restart}"
                )
            return provider
    raise ConfigError(
        f"NEWSFLOW_ELASTICSEARCH_URL={settings.elasticsearch_url} has neither the {ANALYSIS_COMMON} module nor "
        f"newsflow's {PLUGIN_NAME} plugin on every node, which the index's analyzers need: if it is a local node "
        f"started by an older newsflow, {restart}"
    )


def _plugin_version(node: dict) -> str | None:
    return next((plugin.get("version") for plugin in node.get("plugins", []) if plugin["name"] == PLUGIN_NAME), None)


def template_name(settings: Settings) -> str:
    return f"newsflow-{settings.index_alias}"


def template(settings: Settings, provider: str) -> dict[str, Any]:
    """The index template's `template`: settings, analysis and mapping."""
    return {
        "settings": {
            "number_of_shards": settings.index_shards,
            "number_of_replicas": settings.index_replicas,
            "analysis": analysis(provider),
        },
        "mappings": MAPPING,
    }


def put_template(es: Elasticsearch, settings: Settings) -> None:
    es.indices.put_index_template(
        name=template_name(settings),
        index_patterns=[f"{settings.index_alias}-*"],
        version=TEMPLATE_VERSION,
        template=template(settings, analysis_provider(es, settings)),
    )


def physical_index(es: Elasticsearch, settings: Settings) -> str | None:
    """The index the alias points at, or None before `create_index`."""
    try:
        return next(iter(es.indices.get_alias(name=settings.index_alias)))
    except NotFoundError:
        return None


def index_template_version(es: Elasticsearch, index: str) -> int:
    """The `TEMPLATE_VERSION` `index` was made from (1 for indices older than the versions)."""
    mapping = es.indices.get_mapping(index=index)[index]["mappings"]
    return int(mapping.get("_meta", {}).get("template_version", 1))


def create_index(es: Elasticsearch, settings: Settings) -> str:
    """The template and a physical index of its version behind the alias; the index's name.

    The first index is created; one of an older template version is migrated (`migrate`) to a new
    one; one of this version gets the fields this newsflow maps beyond it (adding fields is allowed).
    """
    put_template(es, settings)
    existing = physical_index(es, settings)
    if existing:
        if index_template_version(es, existing) < TEMPLATE_VERSION:
            return migrate(es, settings)[1]
        es.indices.put_mapping(index=existing, properties=MAPPING["properties"])
        return existing
    name = f"{settings.index_alias}-000001"
    try:
        es.indices.create(index=name, aliases={settings.index_alias: {"is_write_index": True}})
    except BadRequestError as exc:  # several indexers starting at once: another one may have created it since the look-up
        if exc.error != "resource_already_exists_exception":
            raise
    return name


def migrate(es: Elasticsearch, settings: Settings, keep: timedelta | None = None) -> tuple[str, str, int]:
    """Move the alias to a new physical index made from the current template.

    1. Create the next physical index (the template's settings and mapping apply); one of that
       name not behind the alias is what a migration that failed before its swap left: it is
       made anew.
    2. Copy every document, keeping its external version, while the old index still serves.
    3. Swap the alias in one atomic action: there is no moment without results.
    4. Copy again what was indexed into the old index during the copy (versions make it safe).
       Each copy refreshes the old index first: a scan reads only what a refresh made searchable,
       and a document written in the second before would otherwise be left behind.
    5. Mark the old index to be deleted after `keep` (NEWSFLOW_INDEX_KEEP_OLD_HOURS when None):
       `drop_retired` deletes it then.

    Returns (old index, new index, documents copied).
    """
    put_template(es, settings)
    old = physical_index(es, settings) or create_index(es, settings)
    number = int(old.rsplit("-", 1)[1]) + 1
    new = f"{settings.index_alias}-{number:06d}"
    es.options(ignore_status=404).indices.delete(index=new)
    es.indices.create(index=new)
    started = datetime.now(UTC)
    copied = _copy(es, old, new, query={"match_all": {}})
    es.indices.update_aliases(
        actions=[
            {"remove": {"index": old, "alias": settings.index_alias}},
            {"add": {"index": new, "alias": settings.index_alias, "is_write_index": True}},
        ]
    )
    copied += _copy(es, old, new, query={"range": {"indexed_at": {"gte": started.isoformat()}}})
    retired_at = datetime.now(UTC)
    delete_after = retired_at + (keep if keep is not None else timedelta(hours=settings.index_keep_old_hours))
    meta = es.indices.get_mapping(index=old)[old]["mappings"].get("_meta", {})
    es.indices.put_mapping(
        index=old, meta={**meta, "retired_at": retired_at.isoformat(), "delete_after": delete_after.isoformat()}
    )
    return old, new, copied


def outdated(es: Elasticsearch, settings: Settings) -> str | None:
    """Why the index behind the alias should be rebuilt from the current template, or None: made
    from an older TEMPLATE_VERSION, or with other shards than NEWSFLOW_INDEX_SHARDS."""
    index = physical_index(es, settings)
    if index is None:
        return None
    made_from = index_template_version(es, index)
    if made_from < TEMPLATE_VERSION:
        return f"{index} was made from template version {made_from}; this newsflow's is {TEMPLATE_VERSION}"
    shards = int(
        es.indices.get_settings(index=index, name="index.number_of_shards")[index]["settings"]["index"]["number_of_shards"]
    )
    if shards != settings.index_shards:
        return f"{index} has {shards} shards; NEWSFLOW_INDEX_SHARDS is {settings.index_shards}"
    return None


def drop_retired(es: Elasticsearch, settings: Settings, now: datetime) -> list[str]:
    """Delete the physical indices `migrate` retired whose time to be kept has passed; their names."""
    numbered = re.compile(rf"^{re.escape(settings.index_alias)}-\d{{6}}$")
    serving = physical_index(es, settings)
    mappings = es.indices.get_mapping(index=f"{settings.index_alias}-*", allow_no_indices=True)
    dropped = []
    for index, mapping in sorted(mappings.items()):
        delete_after = mapping["mappings"].get("_meta", {}).get("delete_after")
        if numbered.match(index) and index != serving and delete_after and datetime.fromisoformat(delete_after) <= now:
            es.indices.delete(index=index)
            dropped.append(index)
    return dropped


def _copy(es: Elasticsearch, source: str, destination: str, query: dict) -> int:
    # The local distribution has no _reindex: scan and bulk from the client instead.
    es.indices.refresh(index=source)
    actions = (
        {
            "_op_type": "index",
            "_index": destination,
            "_id": hit["_id"],
            "_source": {
                **hit["_source"],
                "article_number": article_number(hit["_id"]),
                # An index before version 5 knows only duplicate_of: the story the article was put in.
                "story_id": hit["_source"].get("story_id") or hit["_source"].get("duplicate_of") or hit["_id"],
                # An index before version 6 has no fields by language, one before 7 no facet fields.
                "by_language": by_language(
                    hit["_source"].get("title"), hit["_source"].get("body"), hit["_source"].get("language")
                ),
                **entity_fields([(e["type"], e["key"], e["name"]) for e in hit["_source"].get("entities", [])]),
            },
            "version": hit["_version"],
            "version_type": "external",
        }
        for hit in helpers.scan(es, index=source, query={"query": query}, version=True)
    )
    copied, errors = helpers.bulk(es, actions, raise_on_error=False, refresh="wait_for")
    # A version conflict is a newer copy of the document there already (the indexer wrote it): no loss.
    refused = [error for error in cast(list[dict], errors) if error["index"]["status"] != 409]
    if refused:
        first = refused[0]["index"]
        raise Failure(
            f"copying {source} into {destination}: Elasticsearch refused {len(refused)} documents; "
            f"the first, {first['_id']}: {first.get('error')}"
        )
    return copied


def document(article: NormalizedArticle, story_id: str | None, indexed_at: datetime) -> dict:
    """The indexed form of an article: its fields, dates flattened, entity names by type, and what the
    indexer adds: its story (`story_id`: the story's first article, None for the article's own) and
    `duplicate_of` (the same, on every article of the story but the first)."""
    source = article.model_dump(mode="json", exclude={"published_at", "modified_at"})
    for name in ("published_at", "modified_at"):
        dated = getattr(article, name)
        source[name] = dated.value.isoformat() if dated else None
        source[f"{name}_source"] = dated.source if dated else None
    source |= entity_fields([(entity.type, entity.key, entity.name) for entity in article.entities])
    source["article_number"] = article_number(article.article_id)
    source["story_id"] = story_id or article.article_id
    source["duplicate_of"] = story_id if story_id != article.article_id else None
    source["indexed_at"] = indexed_at.isoformat()
    source["by_language"] = by_language(article.title, article.body, article.language)
    return source


def entity_fields(entities: list[tuple[str, str, str]]) -> dict[str, Any]:
    """The fields an article's entities (type, key, name) fill beside `entities`: names by type, the facets' keys and names."""
    fields: dict[str, Any] = {"entity_keys": {}, "entity_key_names": {}}
    for entity_type, field in ENTITY_FIELDS.items():
        of_type = [(key, name) for kind, key, name in entities if kind == entity_type]
        fields[field] = [name for _, name in of_type]
        fields["entity_keys"][entity_type] = [key for key, _ in of_type]
        fields["entity_key_names"][entity_type] = [f"{key}{KEY_NAME}{name}" for key, name in of_type]
    return fields


def by_language(title: str | None, body: str | None, language: str | None) -> dict[str, dict[str, str | None]]:
    """The `by_language` fields of an article: its title and body under its language's code, if that
    language has an analyzer of its own (`LANGUAGE_ANALYZERS`); else none."""
    return {language: {"title": title, "body": body}} if language in LANGUAGE_ANALYZERS else {}


def article_number(article_id: str) -> int:
    """The first 60 bits of the (hex SHA-256) article id: a unique enough tie-breaker for sorts.

    Sorting on a keyword after a date stops Elasticsearch from skipping documents that cannot
    make the page: on 100,000 articles, date-sorted searches took 70 ms with the id as the last
    key and 11 ms with a number (bench/search.py)."""
    return int(article_id[:15], 16)


class Fetched(Protocol):
    """A record of a fetched page: a NormalizedArticle, or the RawArticle it was made from."""

    @property
    def fetched_at(self) -> datetime: ...


def version(article: Fetched) -> int:
    """The external version: the content's time (when it was fetched), in microseconds.

    A newer fetch of the page always has a higher version, whatever order Kafka delivers
    them in; the same record delivered twice has the same version and changes nothing.
    """
    return int(article.fetched_at.timestamp() * 1_000_000)
