"""The index's analysis on the real local node: newsflow's plugin stems and folds as newsflow.folding does, the
query ranks words above stems above folded forms and marks them all, and an older index migrates to it."""

import copy
import random
import uuid
from datetime import UTC, datetime
from importlib.resources import files

import pytest
import yaml

from bench.baseline import standard_index
from newsflow.clients import elasticsearch_client
from newsflow.folding import fold
from newsflow.ops import demo
from newsflow.ops.demo.site import article_page, seed_article
from newsflow.settings import Settings
from search import kazakh
from search.index import (
    MAPPING,
    TEMPLATE_VERSION,
    analysis,
    analysis_provider,
    create_index,
    document,
    index_template_version,
    physical_index,
    template_name,
    version,
)
from search.query import TEXT_FIELDS, SearchRequest, search_body
from tests.articles import SEED, article

pytestmark = pytest.mark.integration


@pytest.fixture
def alias(local_services: Settings):
    """Settings with an alias of their own, and a client; the alias's indices and template are deleted afterwards."""
    settings = local_services.model_copy(update={"index_alias": f"test-{uuid.uuid4().hex[:8]}"})
    es = elasticsearch_client(settings)
    yield settings, es
    es.indices.delete(index=list(es.indices.get(index=f"{settings.index_alias}-*")))
    es.indices.delete_index_template(name=template_name(settings))
    es.close()


def tokens(es, index: str, text: str, **analysis) -> list[str]:
    return [token["token"] for token in es.indices.analyze(index=index, text=text, **analysis)["tokens"]]


def test_words_and_stems_stems_english_and_russian_and_folds_kazakh(alias):
    settings, es = alias
    index = create_index(es, settings)

    def analyzed(text: str) -> list[str]:
        return tokens(es, index, text, analyzer="words_and_stems")

    assert analyzed("reforms") == ["reforms", "reform"]  # the word, and its stem at the same position
    assert analyzed("reform") == ["reform"]
    assert analyzed("the parliament's amendments") == ["parliament", "amendments", "amend"]
    forms = "реформа реформы реформу реформой реформами реформах"
    assert {token for token in analyzed(forms) if token not in forms.split()} == {"реформ"}
    assert analyzed("Тоқаев") == analyzed("Токаев") == ["токаев", "тока"]
    assert tokens(es, index, "Тоқаев", char_filter=["kazakh_letters"], tokenizer="standard", filter=["lowercase"]) == ["токаев"]
    assert analyzed("Türkiye Өскемен") == analyzed("Turkiye Оскемен")


def demo_texts() -> list[str]:
    """Every title and paragraph of the demo's sample news, the seed's included: English, Russian, Kazakh."""
    news = yaml.safe_load((files(demo) / "articles.yaml").read_text(encoding="utf-8"))["articles"]
    title, paragraphs, _, _ = seed_article()
    return [title, *paragraphs, *(text for sample in news for text in [sample["title"], *sample.get("paragraphs", [])])]


def test_the_folded_analyzer_folds_as_newsflow_folding_does(alias):
    settings, es = alias
    index = create_index(es, settings)
    texts = [*demo_texts(), "Türkiye Öskemen Өскемен Qaraghandy Karagandy Қарағанды Shchuchinsk Щучинск O'Brien 2.7%"]
    for text in texts:
        assert " ".join(tokens(es, index, text, analyzer="folded")) == fold(text), text


def test_the_folded_analyzer_folds_words_of_the_letters_whose_steps_meet_as_newsflow_folding_does(alias):
    # The plugin makes the variants in one pass (ghh, qh, zhh, kzh...), newsflow.folding in one pass each.
    settings, es = alias
    index = create_index(es, settings)
    letters = "aeghkqwzhyGHKQWZ ЖжҚқЩщ.-1Ü\u0301"
    chosen = random.Random(15)
    for _ in range(20):
        text = " ".join("".join(chosen.choice(letters) for _ in range(chosen.randint(1, 10))) for _ in range(200))
        assert " ".join(tokens(es, index, text, analyzer="folded")) == fold(text), text


def test_the_kazakh_analyzer_stems_as_search_kazakh_does(alias):
    settings, es = alias
    index = create_index(es, settings)
    stopwords = {kazakh.russian_letters(word) for word in kazakh.STOPWORDS}
    for text in demo_texts():
        words = tokens(es, index, text, char_filter=["kazakh_letters"], tokenizer="standard", filter=["lowercase"])
        assert tokens(es, index, text, analyzer="kazakh") == [kazakh.stem(word) for word in words if word not in stopwords], text


def test_russian_adjectives_of_places_meet_their_places(alias):
    settings, es = alias
    index = create_index(es, settings)
    for place, adjective in [("Караганда", "Карагандинской"), ("Костанай", "Костанайская"), ("Россия", "российский")]:
        assert (
            tokens(es, index, place, analyzer="words_and_stems")[-1]
            == tokens(es, index, adjective, analyzer="words_and_stems")[-1]
        )


def test_the_folded_analyzer_keeps_the_offsets_of_the_original_words(alias):
    settings, es = alias
    index = create_index(es, settings)
    text = "Жомарт Тоқаев, Щучинск; Tu\u0308rkiye"  # letters that become two or four, and a combining mark that goes
    analyzed = es.indices.analyze(index=index, text=text, analyzer="folded")["tokens"]
    assert [(token["token"], text[token["start_offset"] : token["end_offset"]]) for token in analyzed] == [
        ("jmrt", "Жомарт"),
        ("tkv", "Тоқаев"),
        ("shchchnsk", "Щучинск"),
        ("trk", "Tu\u0308rkiye"),
    ]


def test_exact_words_rank_above_their_stems_and_stems_above_folded_forms(alias):
    settings, es = alias
    create_index(es, settings)
    sentence = "The council met on Monday and discussed the {} of the water code with the regional akimats."
    written = {"exact": "reforms", "stem": "reform", "folded": "reformas"}  # the query says "reforms"
    seen = datetime.now(UTC)
    for n, word in enumerate(written.values()):
        item = article(n + 1, article_page(f"Council session {n}", [sentence.format(word)] * 2).decode(), seen=seen)
        es.index(index=settings.index_alias, id=item.article_id, document=document(item, None, seen), refresh="wait_for")
    hits = es.search(index=settings.index_alias, **search_body(SearchRequest(q="reforms")))["hits"]["hits"]
    assert [hit["_id"] for hit in hits] == [f"{n + 1:064x}" for n in range(3)]
    assert [hit["highlight"]["body"][0].count("<mark>") for hit in hits] == [1, 1, 1]  # each marked, the folded one too


def test_a_folded_match_is_marked_in_text_that_stays_escaped(alias):
    settings, es = alias
    create_index(es, settings)
    item = article(
        1, article_page("Toqayev & <Partners> meet", ["Kassym-Jomart Toqayev met the partners in Astana on Monday."] * 3).decode()
    )
    es.index(index=settings.index_alias, id=item.article_id, document=document(item, None, datetime.now(UTC)), refresh="wait_for")
    (hit,) = es.search(index=settings.index_alias, **search_body(SearchRequest(q="Токаев")))["hits"]["hits"]
    assert hit["highlight"]["title"] == ["<mark>Toqayev</mark> &amp; &lt;Partners&gt; meet"]


def search_ids(es, settings: Settings, text: str) -> list[str]:
    query = {"simple_query_string": {"query": text, "fields": TEXT_FIELDS, "default_operator": "and"}}
    return [hit["_id"] for hit in es.search(index=settings.index_alias, query=query)["hits"]["hits"]]


def test_an_index_of_the_previous_template_is_migrated_and_then_finds_inflected_words(alias):
    settings, es = alias
    old = standard_index(es, settings)  # version 1: the standard analyzer, no version recorded
    seed = article(1, SEED)
    es.index(
        index=settings.index_alias,
        id=seed.article_id,
        document=document(seed, None, datetime.now(UTC)),
        version=version(seed),
        version_type="external",
        refresh="wait_for",
    )
    assert index_template_version(es, old) == 1
    assert search_ids(es, settings, "reforms") == []  # the seed says "reform"

    new = create_index(es, settings)
    assert new == physical_index(es, settings) == f"{settings.index_alias}-000002"
    assert index_template_version(es, new) == TEMPLATE_VERSION
    assert es.get(index=settings.index_alias, id=seed.article_id)["_version"] == version(seed)
    assert search_ids(es, settings, "reforms parliaments") == [seed.article_id]
    assert create_index(es, settings) == new  # an index of this version stays


def test_an_index_whose_entities_were_nested_is_migrated_and_its_people_filter_finds_them(alias):
    settings, es = alias
    previous = copy.deepcopy(MAPPING)  # version 7: the entities nested
    previous["_meta"]["template_version"] = 7
    previous["properties"]["entities"] = {
        "type": "nested",
        "properties": {name: {"type": "keyword"} for name in ("type", "key", "name")},
    }
    es.indices.create(
        index=f"{settings.index_alias}-000001",
        settings={"analysis": analysis(analysis_provider(es, settings))},
        mappings=previous,
        aliases={settings.index_alias: {"is_write_index": True}},
    )
    seed = article(1, SEED)
    assert ("person", "ksm-jmrt-tkv") in {(entity.type, entity.key) for entity in seed.entities}
    source = document(seed, None, datetime.now(UTC))
    es.index(index=settings.index_alias, id=seed.article_id, document=source, version=version(seed), version_type="external")
    new = create_index(es, settings)
    assert index_template_version(es, new) == TEMPLATE_VERSION and new == f"{settings.index_alias}-000002"
    body = search_body(SearchRequest(people=["ksm-jmrt-tkv"]))
    (hit,) = es.search(index=settings.index_alias, **body)["hits"]["hits"]
    assert hit["_id"] == seed.article_id and hit["_source"]["entities"] == source["entities"]
    assert es.search(index=settings.index_alias, **search_body(SearchRequest(people=["nobody"])))["hits"]["hits"] == []
