"""Stories on the real Kafka and Elasticsearch: two `newsflow worker index` processes of one group, each
on its own partitions, write one story at the same time, and an original crawled after its copies
becomes its first; an index from before story_id is migrated with the stories it had."""

import copy
import os
import signal
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from newsflow.clients import elasticsearch_client, kafka_admin, kafka_producer
from newsflow.settings import Settings
from newsflow.topics import ensure_topics
from search.index import (
    MAPPING,
    TEMPLATE_VERSION,
    analysis,
    analysis_provider,
    create_index,
    document,
    index_template_version,
    template_name,
    version,
)
from tests.articles import SEED, T0, article
from tests.helpers import wait_for
from transform.contract import NormalizedArticle

pytestmark = pytest.mark.integration

HOUR = timedelta(hours=1)


@pytest.fixture
def world(local_services: Settings):
    """A fresh alias, topics and index group."""
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    settings = local_services.model_copy(
        update={
            "index_alias": prefix,
            "index_group": f"{prefix}-index",
            "topic_raw": f"{prefix}.raw",
            "topic_articles": f"{prefix}.articles",
            "topic_dlq": f"{prefix}.dlq",
        }
    )
    ensure_topics(settings)
    es = elasticsearch_client(settings)
    yield settings, es
    indices = list(es.indices.get(index=f"{prefix}-*"))
    if indices:
        es.indices.delete(index=indices)
    es.options(ignore_status=404).indices.delete_index_template(name=template_name(settings))
    es.close()
    admin = kafka_admin(settings)
    admin.delete_topics([settings.topic_raw, settings.topic_articles, settings.topic_dlq])
    admin.close()


def copy_of_seed(n: int, published: datetime, seen: datetime) -> NormalizedArticle:
    """A near-duplicate of the seed article under its own id (n) and source."""
    return article(
        n, SEED.replace("Orda.kz reports", f"Orda.kz reports ({n})"), source=f"copier-{n}", seen=seen, published=published
    )


def stories(settings: Settings, es) -> dict[str, tuple[str, str | None]]:
    """Every indexed article's (story_id, duplicate_of)."""
    es.indices.refresh(index=settings.index_alias)
    hits = es.search(index=settings.index_alias, size=100, source_includes=["story_id", "duplicate_of"])["hits"]["hits"]
    return {hit["_id"]: (hit["_source"]["story_id"], hit["_source"]["duplicate_of"]) for hit in hits}


def committed(settings: Settings) -> int:
    admin = kafka_admin(settings)
    try:
        offsets = admin.list_group_offsets(settings.index_group).get(settings.index_group, {})
        return sum(max(offset.offset, 0) for offset in offsets.values())
    finally:
        admin.close()


def assigned(settings: Settings) -> list[int]:
    """How many partitions each member of the index group holds."""
    admin = kafka_admin(settings)
    try:
        members = admin.describe_groups([settings.index_group])[settings.index_group]["members"]
    finally:
        admin.close()
    return sorted(
        sum(len(held["partitions"]) for held in (member["member_assignment"] or {}).get("assigned_partitions", []))
        for member in members
    )


def test_an_original_after_its_copies_becomes_the_first_of_the_story_both_indexers_wrote(world, tmp_path):
    settings, es = world
    env = {
        **os.environ,
        "NEWSFLOW_TOPIC_RAW": settings.topic_raw,
        "NEWSFLOW_TOPIC_ARTICLES": settings.topic_articles,
        "NEWSFLOW_TOPIC_DLQ": settings.topic_dlq,
        "NEWSFLOW_INDEX_ALIAS": settings.index_alias,
        "NEWSFLOW_INDEX_GROUP": settings.index_group,
    }
    logs = [tmp_path / f"indexer-{n}.log" for n in (1, 2)]
    workers = []
    for log in logs:
        with log.open("wb") as output:
            workers.append(
                subprocess.Popen(
                    [sys.executable, "-m", "newsflow", "worker", "index"],
                    env=env,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
    producer = kafka_producer(settings)
    partitions = settings.topic_partitions

    def produce(*articles: NormalizedArticle, start: int) -> None:
        # Round the partitions, whatever their keys hash to: both indexers get some of each batch.
        for n, item in enumerate(articles, start):
            producer.send(
                settings.topic_articles, key=item.key(), value=item.model_dump_json().encode(), partition=n % partitions
            )
        producer.flush()

    try:
        wait_for(lambda: assigned(settings) == [partitions // 2, partitions - partitions // 2], timeout=120)
        copies = [copy_of_seed(n, published=T0 + n * HOUR, seen=T0) for n in range(1, 13)]
        assert all(set(item.near_duplicate_keys) & set(copies[0].near_duplicate_keys) for item in copies)
        produce(*copies, start=0)  # at once: the two indexers write into one story at the same time
        wait_for(lambda: committed(settings) == len(copies), timeout=120)
        first = copies[0].article_id
        assert stories(settings, es) == {first: (first, None)} | {item.article_id: (first, first) for item in copies[1:]}

        original = copy_of_seed(100, published=T0, seen=T0 + 24 * HOUR)  # crawled a day after its copies
        late_copies = [copy_of_seed(n, published=T0 + n * HOUR, seen=T0 + 24 * HOUR) for n in range(13, 18)]
        produce(original, *late_copies, start=0)  # the original on one indexer, late copies on both
        wait_for(lambda: committed(settings) == len(copies) + 1 + len(late_copies), timeout=120)
        expected = {item.article_id: (original.article_id, original.article_id) for item in copies + late_copies}
        assert stories(settings, es) == expected | {original.article_id: (original.article_id, None)}
    finally:
        producer.close()
        for worker in workers:
            os.killpg(worker.pid, signal.SIGTERM)
        for worker in workers:
            worker.wait(timeout=60)
    assert [worker.returncode for worker in workers] == [0, 0], [log.read_text()[-3000:] for log in logs]


def test_an_index_from_before_story_id_is_migrated_with_the_stories_duplicate_of_gave(world):
    settings, es = world
    previous = copy.deepcopy(MAPPING)  # version 3: duplicate_of, no story_id
    previous["_meta"]["template_version"] = 3
    del previous["properties"]["story_id"]
    old = f"{settings.index_alias}-000001"
    es.indices.create(
        index=old,
        settings={"analysis": analysis(analysis_provider(es, settings))},
        mappings=previous,
        aliases={settings.index_alias: {"is_write_index": True}},
    )
    original = copy_of_seed(1, published=T0, seen=T0)
    duplicate = copy_of_seed(2, published=T0 + HOUR, seen=T0)
    for item, duplicate_of in ((original, None), (duplicate, original.article_id)):
        source = document(item, duplicate_of, datetime.now(UTC))
        del source["story_id"]
        es.index(index=old, id=item.article_id, document=source, version=version(item), version_type="external", refresh=True)
    new = create_index(es, settings)
    assert index_template_version(es, new) == TEMPLATE_VERSION
    assert stories(settings, es) == {
        original.article_id: (original.article_id, None),
        duplicate.article_id: (original.article_id, original.article_id),
    }
