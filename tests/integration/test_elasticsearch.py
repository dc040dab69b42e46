"""A real Elasticsearch 9 node, through the official client: what the search stage relies on."""

import uuid

import pytest
from elasticsearch import ConflictError, helpers

from newsflow.clients import elasticsearch_client
from newsflow.settings import Settings

pytestmark = pytest.mark.integration

ARTICLES = [
    {"title": "Tokayev signs the parliamentary reform", "source": "orda-kz", "published_at": "2026-11-01T08:00:00Z"},
    {"title": "Parliament debates the reform again", "source": "orda-kz", "published_at": "2026-11-02T09:30:00Z"},
    {"title": "Snow closes the Almaty ring road", "source": "tengri", "published_at": "2026-11-02T11:00:00Z"},
]


@pytest.fixture
def news_index(local_services: Settings):
    """A fresh physical index behind a fresh alias, made from an index template; removed after."""
    es = elasticsearch_client(local_services)
    name = f"test-{uuid.uuid4().hex[:8]}"
    es.indices.put_index_template(
        name=name,
        index_patterns=[f"{name}-*"],
        template={
            "settings": {"number_of_shards": 1, "number_of_replicas": 0},
            "mappings": {
                "properties": {
                    "title": {"type": "text"},
                    "source": {"type": "keyword"},
                    "published_at": {"type": "date"},
                }
            },
        },
    )
    es.indices.create(index=f"{name}-000001", aliases={name: {}})
    yield es, name
    es.indices.delete(index=list(es.indices.get(index=f"{name}-*")))
    es.indices.delete_index_template(name=name)
    es.close()


def test_bulk_indexed_articles_are_found_with_highlights_and_facets(news_index):
    es, alias = news_index
    indexed, errors = helpers.bulk(
        es, ({"_index": alias, "_id": str(n), "_source": doc} for n, doc in enumerate(ARTICLES)), refresh="wait_for"
    )
    assert (indexed, errors) == (3, [])

    found = es.search(
        index=alias,
        query={"simple_query_string": {"query": "parliamentary reform", "fields": ["title"]}},
        highlight={"fields": {"title": {}}},
        aggs={
            "sources": {"terms": {"field": "source"}},
            "per_day": {"date_histogram": {"field": "published_at", "calendar_interval": "day"}},
        },
    )
    hits = found["hits"]["hits"]
    assert [hit["_id"] for hit in hits][:1] == ["0"]
    assert {hit["_id"] for hit in hits} == {"0", "1"}
    assert "<em>reform</em>" in hits[0]["highlight"]["title"][0]
    assert {b["key"]: b["doc_count"] for b in found["aggregations"]["sources"]["buckets"]} == {"orda-kz": 2}
    assert [b["doc_count"] for b in found["aggregations"]["per_day"]["buckets"]] == [1, 1]
    assert es.get(index=alias, id="2")["_source"]["source"] == "tengri"


def test_external_versions_keep_the_newest_content(news_index):
    es, alias = news_index
    es.index(index=alias, id="a", document={"title": "second version"}, version=2, version_type="external")
    with pytest.raises(ConflictError):
        es.index(index=alias, id="a", document={"title": "first version"}, version=1, version_type="external")
    assert es.get(index=alias, id="a")["_source"]["title"] == "second version"


def test_the_alias_moves_atomically_to_a_new_physical_index(news_index):
    es, alias = news_index
    es.index(index=alias, id="x", document={"title": "old index"}, refresh="wait_for")
    es.indices.create(index=f"{alias}-000002")
    es.index(index=f"{alias}-000002", id="x", document={"title": "new index"}, refresh="wait_for")
    es.indices.update_aliases(
        actions=[
            {"remove": {"index": f"{alias}-000001", "alias": alias}},
            {"add": {"index": f"{alias}-000002", "alias": alias}},
        ]
    )
    assert es.get(index=alias, id="x")["_source"]["title"] == "new index"
