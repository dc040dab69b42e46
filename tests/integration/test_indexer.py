"""The indexer on the real Elasticsearch and Kafka: once per article, newest version, stories, dead letters."""

import os
import signal
import subprocess
import sys
import uuid
from datetime import timedelta

import pytest
from elasticsearch import Elasticsearch

from newsflow.clients import elasticsearch_client, kafka_admin, kafka_producer
from newsflow.deadletters import DeadLetter
from newsflow.errors import Backpressure, Reason
from newsflow.publisher import Publisher
from newsflow.settings import Settings
from newsflow.topics import ensure_topics
from search.index import create_index, migrate, physical_index, template_name, version
from search.indexer import Indexer
from tests.articles import SEED, SYNDICATED, T0, UNRELATED, article
from tests.helpers import free_port, read_topic, wait_for
from transform.contract import NormalizedArticle

pytestmark = pytest.mark.integration


@pytest.fixture
def world(local_services: Settings):
    """A fresh alias and topics; an Indexer on them; a way to turn articles into consumed records."""
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    settings = local_services.model_copy(
        update={
            "index_alias": prefix,
            "topic_raw": f"{prefix}.raw",
            "topic_articles": f"{prefix}.articles",
            "topic_dlq": f"{prefix}.dlq",
        }
    )
    ensure_topics(settings)
    es = elasticsearch_client(settings)
    create_index(es, settings)
    publisher = Publisher(settings)
    producer = kafka_producer(settings)

    class Indexed:
        """`indexed(indexer, *values)` indexes the values as consumed records and waits until they are searchable;
        `indexed.records(*values)` only turns them into consumed records."""

        def records(self, *values: NormalizedArticle | bytes) -> list:
            before = len(read_topic(settings, settings.topic_articles))
            for value in values:
                payload = value if isinstance(value, bytes) else value.model_dump_json().encode()
                producer.send(settings.topic_articles, key=b"k", value=payload)  # one key: one partition, in order
            producer.flush()
            return read_topic(settings, settings.topic_articles)[before:]

        def __call__(self, indexer: Indexer, *values: NormalizedArticle | bytes) -> dict[str, int]:
            counts = indexer.index_batch(self.records(*values))
            publisher.flush()
            es.indices.refresh(index=settings.index_alias)
            return counts

    indexed = Indexed()

    yield settings, es, Indexer(settings, es, publisher), indexed
    producer.close()
    publisher.close()
    es.indices.delete(index=list(es.indices.get(index=f"{prefix}-*")))
    es.indices.delete_index_template(name=template_name(settings))
    admin = kafka_admin(settings)
    admin.delete_topics([settings.topic_raw, settings.topic_articles, settings.topic_dlq])
    admin.close()


def test_the_same_record_twice_is_one_document_of_one_version(world):
    settings, es, indexer, indexed = world
    seed = article(1, SEED)
    assert indexed(indexer, seed) == {"indexed": 1, "dead_lettered": 0}
    assert indexed(indexer, seed) == {"indexed": 1, "dead_lettered": 0}  # a conflict is success
    stored = es.get(index=settings.index_alias, id=seed.article_id)
    assert stored["_version"] == version(seed)
    assert stored["_source"]["title"] == seed.title and stored["_source"]["published_at_source"] is None
    assert es.count(index=settings.index_alias)["count"] == 1


def test_an_older_version_after_a_newer_one_leaves_the_newer(world):
    settings, es, indexer, indexed = world
    old = article(1, SEED)
    new = article(1, SEED.replace("Orda.kz reports", "Orda.kz reports, updated"), fetched=T0 + timedelta(hours=2))
    indexed(indexer, new)
    indexed(indexer, old)
    stored = es.get(index=settings.index_alias, id=new.article_id)
    assert "updated" in stored["_source"]["body"] and stored["_version"] == version(new)


def test_a_near_duplicate_from_another_source_points_at_the_earliest_of_its_story(world):
    settings, es, indexer, indexed = world
    seed = article(1, SEED)
    copy = article(2, SYNDICATED, source="tengri", seen=T0 + timedelta(hours=1))
    other = article(3, UNRELATED, source="tengri", seen=T0 + timedelta(hours=1))
    indexed(indexer, seed)
    indexed(indexer, copy, other)
    sources = {hit["_id"]: hit["_source"] for hit in es.search(index=settings.index_alias, size=10)["hits"]["hits"]}
    assert sources[copy.article_id]["duplicate_of"] == seed.article_id
    assert sources[seed.article_id]["duplicate_of"] is None and sources[other.article_id]["duplicate_of"] is None


def test_near_duplicates_in_one_batch_find_each_other(world):
    settings, es, indexer, indexed = world
    seed = article(1, SEED)
    copy = article(2, SYNDICATED, source="tengri", seen=T0 + timedelta(minutes=5))
    indexed(indexer, copy, seed)  # the later copy first: the order of the batch does not matter
    assert es.get(index=settings.index_alias, id=copy.article_id)["_source"]["duplicate_of"] == seed.article_id


def test_what_cannot_be_indexed_goes_to_the_dlq_and_the_rest_is_indexed(world):
    settings, _es, indexer, indexed = world
    good = article(1, SEED)
    refused = article(2, UNRELATED).model_copy(update={"word_count": 2**40})  # over an integer field's range
    assert indexed(indexer, b"not json", refused, good) == {"indexed": 1, "dead_lettered": 2}
    letters = {
        letter.reason: letter
        for letter in (DeadLetter.model_validate_json(r.value) for r in read_topic(settings, settings.topic_dlq))
    }
    assert set(letters) == {Reason.NOT_JSON, Reason.REJECTED}
    assert letters[Reason.REJECTED].article_id == refused.article_id and letters[Reason.REJECTED].stage == "index"
    assert "400" in letters[Reason.REJECTED].detail


def test_while_elasticsearch_is_unreachable_the_batch_pushes_back_and_nothing_is_lost(world):
    settings, es, indexer, indexed = world
    seed = article(1, SEED)
    batch = indexed.records(seed)
    indexer.es = Elasticsearch(f"http://127.0.0.1:{free_port()}", request_timeout=2)
    pauses = []
    for _ in range(3):
        with pytest.raises(Backpressure) as pushed:
            indexer.index_batch(batch)
        pauses.append(pushed.value.retry_after)
    assert pauses == [0.5, 1.0, 2.0]
    indexer.es = es  # Elasticsearch is back: the same batch is handed over again
    assert indexer.index_batch(batch) == {"indexed": 1, "dead_lettered": 0}
    es.indices.refresh(index=settings.index_alias)
    assert es.get(index=settings.index_alias, id=seed.article_id)["found"]


BLOCKS = ["index.blocks.write", "index.blocks.read_only", "index.blocks.read_only_allow_delete", "index.blocks.read"]


@pytest.mark.parametrize("block", BLOCKS)
def test_a_blocked_index_holds_the_batch_back_and_takes_it_once_the_block_is_lifted(world, block):
    settings, es, indexer, indexed = world
    batch = indexed.records(article(1, SEED), article(3, UNRELATED))
    index = physical_index(es, settings)
    es.indices.put_settings(index=index, settings={block: True})
    try:
        for _ in range(2):  # the loop hands the batch over again while the block lasts
            with pytest.raises(Backpressure, match="cluster_block_exception"):
                indexer.index_batch(batch)
        indexer.publisher.flush()
    finally:
        es.indices.put_settings(index=index, settings={block: None})
    es.indices.refresh(index=settings.index_alias)
    assert es.count(index=settings.index_alias)["count"] == 0
    assert read_topic(settings, settings.topic_dlq) == []  # nothing dead-lettered for a block
    assert indexer.index_batch(batch) == {"indexed": 2, "dead_lettered": 0}
    es.indices.refresh(index=settings.index_alias)
    assert es.count(index=settings.index_alias)["count"] == 2


def test_the_index_worker_commits_nothing_while_the_index_is_blocked_and_everything_after(world, tmp_path):
    settings, es, _, indexed = world
    group = f"{settings.index_alias}-index"
    env = {
        **os.environ,
        "NEWSFLOW_TOPIC_RAW": settings.topic_raw,
        "NEWSFLOW_TOPIC_ARTICLES": settings.topic_articles,
        "NEWSFLOW_TOPIC_DLQ": settings.topic_dlq,
        "NEWSFLOW_INDEX_ALIAS": settings.index_alias,
        "NEWSFLOW_INDEX_GROUP": group,
        "NEWSFLOW_INDEX_RETRY_MAX_SECONDS": "1",
    }
    index = physical_index(es, settings)
    es.indices.put_settings(index=index, settings={"index.blocks.write": True})
    articles = [
        article(n, SEED.replace("Orda.kz reports", f"Orda.kz reports ({n})"), seen=T0 + timedelta(minutes=n)) for n in range(5)
    ]
    log = tmp_path / "indexer.log"
    with log.open("wb") as output:
        worker = subprocess.Popen(
            [sys.executable, "-m", "newsflow", "worker", "index"],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        indexed.records(*articles)
        # refused, and refused again each time the loop hands the batch over after a pause
        wait_for(lambda: log.read_text().count("cluster_block_exception") >= 3, timeout=120)
        assert committed(settings, group) == 0
        assert read_topic(settings, settings.topic_dlq) == []
        es.indices.put_settings(index=index, settings={"index.blocks.write": None})
        wait_for(lambda: committed(settings, group) == len(articles), timeout=60)
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=60)
    es.indices.refresh(index=settings.index_alias)
    assert es.count(index=settings.index_alias)["count"] == len(articles)
    assert read_topic(settings, settings.topic_dlq) == []
    assert worker.returncode == 0, log.read_text()


def committed(settings: Settings, group: str) -> int:
    """The offsets `group` committed, summed over the partitions."""
    admin = kafka_admin(settings)
    try:
        offsets = admin.list_group_offsets(group).get(group, {})
        return sum(max(offset.offset, 0) for offset in offsets.values())
    finally:
        admin.close()


def test_a_migration_moves_the_alias_with_every_document_and_version(world):
    settings, es, indexer, indexed = world
    seed, other = article(1, SEED), article(3, UNRELATED)
    indexed(indexer, seed, other)
    old, new, copied = migrate(es, settings)
    assert (old, new, copied) == (f"{settings.index_alias}-000001", f"{settings.index_alias}-000002", 2)
    assert physical_index(es, settings) == new
    assert es.get(index=settings.index_alias, id=seed.article_id)["_version"] == version(seed)
    assert indexed(indexer, seed) == {"indexed": 1, "dead_lettered": 0}  # writes go to the new index


def test_a_migration_copies_a_write_no_refresh_has_made_searchable_yet(world):
    settings, es, indexer, indexed = world
    seed = article(1, SEED)
    indexed(indexer, seed)
    es.indices.put_settings(index=settings.index_alias, settings={"refresh_interval": "-1"})  # nothing refreshes by itself
    # As the stories' re-pointing writes, without a refresh: the migration must copy the new story all the same.
    es.update(index=settings.index_alias, id=seed.article_id, doc={"story_id": "f" * 64})
    _, new, copied = migrate(es, settings)
    assert copied == 1 and es.get(index=new, id=seed.article_id)["_source"]["story_id"] == "f" * 64


def test_a_copy_in_the_next_batch_is_found_before_the_index_refreshes(world):
    settings, es, indexer, indexed = world
    es.indices.put_settings(index=settings.index_alias, settings={"refresh_interval": "-1"})  # searches see nothing new
    seed = article(1, SEED)
    copy = article(2, SYNDICATED, source="tengri", seen=T0 + timedelta(hours=1))
    indexer.index_batch(indexed.records(seed))
    indexer.index_batch(indexed.records(copy))
    es.indices.refresh(index=settings.index_alias)
    assert es.get(index=settings.index_alias, id=copy.article_id)["_source"]["duplicate_of"] == seed.article_id


def test_an_original_crawled_after_its_copy_becomes_the_first_of_the_story(world):
    settings, es, indexer, indexed = world
    copy = article(2, SYNDICATED, source="tengri", seen=T0, published=T0 + timedelta(hours=4))
    seed = article(1, SEED, seen=T0 + timedelta(hours=1), published=T0)
    indexed(indexer, copy)
    indexed(indexer, seed)
    assert es.get(index=settings.index_alias, id=seed.article_id)["_source"]["duplicate_of"] is None
    assert es.get(index=settings.index_alias, id=copy.article_id)["_source"]["duplicate_of"] == seed.article_id
    indexed(indexer, copy)  # a re-delivery of the copy changes nothing
    assert es.get(index=settings.index_alias, id=copy.article_id)["_source"]["duplicate_of"] == seed.article_id
