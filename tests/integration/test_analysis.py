"""The index's analysis on the real local node: newsflow's plugin stems and folds, and an older index migrates to it."""

import copy
import uuid
from datetime import UTC, datetime

import pytest

from newsflow.clients import elasticsearch_client
from newsflow.settings import Settings
from search.index import (
    MAPPING,
    TEMPLATE_VERSION,
    create_index,
    document,
    index_template_version,
    physical_index,
    template_name,
    version,
)
from search.query import TEXT_FIELDS
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


def search_ids(es, settings: Settings, text: str) -> list[str]:
    query = {"simple_query_string": {"query": text, "fields": TEXT_FIELDS, "default_operator": "and"}}
    return [hit["_id"] for hit in es.search(index=settings.index_alias, query=query)["hits"]["hits"]]


def test_an_index_of_the_previous_template_is_migrated_and_then_finds_inflected_words(alias):
    settings, es = alias
    previous = copy.deepcopy(MAPPING)  # version 1: the standard analyzer, no version recorded
    del previous["_meta"]
    for name in ("title", "lead", "body"):
        previous["properties"][name]["analyzer"] = "standard"
    old = f"{settings.index_alias}-000001"
    es.indices.create(index=old, mappings=previous, aliases={settings.index_alias: {"is_write_index": True}})
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
