"""The local node is what docs/elasticsearch-local.md says it is: keep the page true."""

import pytest
from elasticsearch import ApiError, Elasticsearch

from newsflow.services.analysis_plugin import PLUGIN_NAME, digest
from newsflow.settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture
def local_node(local_services: Settings):
    # The page is about the local distribution, whatever NEWSFLOW_ELASTICSEARCH_URL points at.
    es = Elasticsearch(f"http://127.0.0.1:{local_services.elasticsearch_port}")
    yield es
    es.close()


def test_it_has_exactly_the_documented_modules(local_node):
    nodes = local_node.nodes.info(filter_path="nodes.*.modules.name,nodes.*.version")["nodes"]
    (node,) = nodes.values()
    assert node["version"].startswith("9.")
    assert {module["name"] for module in node["modules"]} == {"apm", "transport-netty4", "x-pack-core", "x-pack-security"}


def test_its_one_plugin_is_newsflows_analysis_plugin_of_this_build(local_node, local_services):
    nodes = local_node.nodes.info(filter_path="nodes.*.plugins.name,nodes.*.plugins.version")["nodes"]
    (node,) = nodes.values()
    assert node["plugins"] == [{"name": PLUGIN_NAME, "version": digest(local_services.elasticsearch_version)}]


@pytest.mark.parametrize("analyzer", ["standard", "simple", "whitespace", "stop", "keyword"])
def test_the_documented_analyzers_exist(local_node, analyzer):
    assert local_node.indices.analyze(analyzer=analyzer, text="Тоқаев")["tokens"]


@pytest.mark.parametrize("token_filter", ["asciifolding", "stemmer", "edge_ngram"])
def test_analysis_common_filters_are_missing(local_node, token_filter):
    with pytest.raises(ApiError, match="failed to find global filter"):
        local_node.indices.analyze(tokenizer="standard", filter=[token_filter], text="Café")


def test_reindex_and_ingest_processors_are_missing(local_node):
    with pytest.raises(ApiError):
        local_node.reindex(source={"index": "nothing"}, dest={"index": "elsewhere"})
    with pytest.raises(ApiError, match="No processor type exists with name \\[set\\]"):
        local_node.ingest.put_pipeline(id="newsflow-probe", processors=[{"set": {"field": "a", "value": "b"}}])
