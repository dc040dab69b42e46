"""`newsflow demo`, `status` and `dlq` as a user runs them, on the real services.

The demo runs on its own topics, index, consumer groups and state dir (`--external`: the running
services), twice: every sample article is accounted for, the seed leads the sample search, the
index's languages are only English, Russian and Kazakh, and the second run adds nothing. Then
its dead letter is listed, shown and redriven.
"""

import json
import os
import re
import uuid
from collections import Counter

import pytest

from newsflow.clients import elasticsearch_client, kafka_admin
from newsflow.settings import Settings, load_settings
from tests.helpers import free_port, read_topic, run_newsflow

pytestmark = pytest.mark.integration

ACCOUNTED = re.compile(
    r"sample articles (\d+): fetched (\d+) = searchable (\d+) \+ duplicates (\d+) \+ dead letters (\d+) \((.*)\) ✓"
)


@pytest.fixture
def demo_env(local_services: Settings, tmp_path):
    prefix = f"demo-{uuid.uuid4().hex[:8]}"
    yield {
        **os.environ,
        "NEWSFLOW_STATE_DIR": str(tmp_path / "state"),
        "NEWSFLOW_INDEX_ALIAS": prefix,
        "NEWSFLOW_TOPIC_RAW": f"{prefix}.raw",
        "NEWSFLOW_TOPIC_ARTICLES": f"{prefix}.articles",
        "NEWSFLOW_TOPIC_DLQ": f"{prefix}.dlq",
        "NEWSFLOW_TRANSFORM_GROUP": f"{prefix}-transform",
        "NEWSFLOW_INDEX_GROUP": f"{prefix}-index",
        "NEWSFLOW_DEMO_SITE_PORT": str(free_port()),
        "NEWSFLOW_TRANSFORM_PROCESSES": "2",
    }
    es = elasticsearch_client(local_services)
    indices = list(es.indices.get(index=f"{prefix}-*", allow_no_indices=True))
    if indices:
        es.indices.delete(index=",".join(indices))
    es.options(ignore_status=404).indices.delete_index_template(name=f"newsflow-{prefix}")
    admin = kafka_admin(local_services)
    admin.delete_topics([f"{prefix}.raw", f"{prefix}.articles", f"{prefix}.dlq"])
    admin.close()


def test_the_demo_accounts_for_every_sample_article_and_a_second_run_adds_nothing(demo_env):
    first = run_newsflow("demo", "--no-serve", "--external", env=demo_env)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    total, fetched, searchable, duplicates, dead, reasons = ACCOUNTED.search(first.stdout).groups()
    assert (int(total), int(fetched), int(searchable), int(duplicates), int(dead)) == (31, 31, 29, 1, 1)
    assert reasons == "transform/too_short 1"
    assert "1. Toqayev: Parliamentary Reform Will Require Major Constitutional Changes [orda]  (the seed article)" in first.stdout
    assert "published 10;" in first.stdout and "published 11;" in first.stdout
    facet = elasticsearch_client(load_settings()).search(
        index=demo_env["NEWSFLOW_INDEX_ALIAS"], size=0, aggs={"languages": {"terms": {"field": "language"}}}
    )
    assert {bucket["key"] for bucket in facet["aggregations"]["languages"]["buckets"]} == {"en", "ru", "kk"}
    assert_entities_found(demo_env["NEWSFLOW_INDEX_ALIAS"])

    second = run_newsflow("demo", "--no-serve", "--external", env=demo_env)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    assert ACCOUNTED.search(second.stdout).groups() == ("31", "31", "29", "1", "1", "transform/too_short 1")
    assert "transform after" in second.stdout and "(0 records)" in second.stdout
    assert second.stdout.count("published 0;") == 3

    status = run_newsflow("status", env=demo_env)
    assert status.returncode == 0, status.stderr
    prefix = demo_env["NEWSFLOW_INDEX_ALIAS"]
    # Offsets: news.articles and news.dlq also hold transform's transaction markers, one per transaction and partition.
    sizes = re.search(rf"{prefix}\.raw 31, {prefix}\.articles (\d+), {prefix}\.dlq (\d+)", status.stdout)
    assert sizes and int(sizes[1]) > 30 and int(sizes[2]) > 1, status.stdout
    assert f"lag: {prefix}-transform on {prefix}.raw: 0 of 31" in status.stdout
    assert f"index {prefix}: 29 articles, 1 near-duplicates" in status.stdout
    assert "dead letters: transform/too_short 1" in status.stdout
    assert re.search(r"UTC  steppe-times: discovered \d+", status.stdout)


# The demo's articles that name Tokayev (in English, Russian and Kazakh; the syndicated copy is a
# hidden duplicate), and those that name the city of Almaty (the snow leopards' names only the region).
NAMING_TOKAYEV = {
    "orda/news/toqayev-parliamentary-reform",
    "steppe-times/news/tokaev-reforma-parlamenta-predlozheniya",
    "steppe-times/news/tokayev-tashkent-state-visit",
    "qazaq-wire/news/qostanay-astyq-zhinau-ayaqtaldy",
    "qazaq-wire/news/tokaev-grain-logistics-meeting",
}
NAMING_ALMATY = {
    "orda/news/almaty-smog-heating-season",
    "orda/news/dimash-almaty-concert-sold-out",
    "orda/news/tenge-weakens-past-520",
    "orda/news/almaty-metro-three-new-stations",
    "steppe-times/news/national-bank-holds-base-rate",
    "steppe-times/news/shymkent-tennis-centre-first-tournament",
    "steppe-times/news/alatau-film-festival-opens",
    "qazaq-wire/news/syr-darya-water-data-agreement",
    "qazaq-wire/news/5g-coverage-all-regional-centres",
    "qazaq-wire/news/asian-youth-boxing-championships",
    "qazaq-wire/news/bread-meat-prices-november",
}


def assert_entities_found(alias: str) -> None:
    """The people facet of the demo's index lists one Tokayev, whose filter finds every article naming him; Almaty's likewise."""
    from fastapi.testclient import TestClient

    from search.api import create_app

    with TestClient(create_app(load_settings().model_copy(update={"index_alias": alias}))) as client:

        def paths(**params: str) -> set[str]:
            found = client.get("/search", params={**params, "size": 100}).json()["results"]
            return {hit["url"].split("/", 3)[3] for hit in found}

        facets = client.get("/search", params={"size": 1}).json()["facets"]
        tokayev = [bucket for bucket in facets["people"] if "Tokayev" in bucket["name"] or "Toqayev" in bucket["name"]]
        assert tokayev == [{"value": "ksm-jmrt-tkv", "name": "Kassym-Jomart Tokayev", "count": len(NAMING_TOKAYEV)}]
        assert paths(person="ksm-jmrt-tkv") == NAMING_TOKAYEV
        assert {"value": "almti", "name": "Almaty", "count": len(NAMING_ALMATY)} in facets["places"]
        assert paths(place="almti") == NAMING_ALMATY


def test_a_dead_letter_is_listed_shown_and_redriven_to_the_stage_that_failed_it(demo_env):
    assert run_newsflow("demo", "--no-serve", "--external", env=demo_env).returncode == 0
    listed = run_newsflow("dlq", "list", "--stage", "transform", env=demo_env)
    assert listed.returncode == 0, listed.stderr
    (line,) = [line for line in listed.stdout.splitlines() if "transform/too_short" in line]
    position = line.split()[0]
    assert "/steppe-times/news/live-updates-energy-forum" in line and "1 letter(s)" in listed.stdout

    shown = run_newsflow("dlq", "show", position, env=demo_env)
    letter = json.loads(shown.stdout)
    assert letter["reason"] == "too_short" and letter["origin"]["topic"] == demo_env["NEWSFLOW_TOPIC_RAW"]

    assert run_newsflow("dlq", "redrive", env=demo_env).returncode == 2  # choose letters, or nothing happens
    unknown = run_newsflow("dlq", "show", "9:999", env=demo_env)
    assert unknown.returncode == 2 and "no dead letter at 9:999" in unknown.stderr
    redriven = run_newsflow("dlq", "redrive", "--reason", "too_short", env=demo_env)
    assert redriven.returncode == 0, redriven.stderr
    assert f"redrove 1 letter(s): 1 to {demo_env['NEWSFLOW_TOPIC_RAW']}" in redriven.stdout
    settings = load_settings(topic_raw=demo_env["NEWSFLOW_TOPIC_RAW"])
    raw = read_topic(settings, settings.topic_raw)
    (again,) = [value for value, count in Counter(r.value for r in raw).items() if count == 2]  # the same record
    assert len(raw) == 32 and b"live-updates-energy-forum" in again
