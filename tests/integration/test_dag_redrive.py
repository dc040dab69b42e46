"""news_redrive through Airflow (`dag.test()`) on the real Kafka: the letters of a stage written
within the window go back to their topic, the permanent ones only when asked, older ones never."""

import time
from pathlib import Path

import pytest

from newsflow.clients import kafka_producer
from newsflow.dagrun import run_once
from newsflow.deadletters import DeadLetter, Origin
from newsflow.settings import load_settings
from tests.helpers import read_topic

pytestmark = pytest.mark.integration


def letter(settings, n: int, reason: str, permanent: bool) -> DeadLetter:
    return DeadLetter(
        stage="transform",
        reason=reason,
        detail=f"{reason} #{n}",
        permanent=permanent,
        article_id=f"{n:064x}",
        origin=Origin(topic=settings.topic_raw, partition=0, offset=n),
        original=f'{{"record": {n}}}',
    )


def test_a_redrive_sends_back_the_letters_of_its_window_and_the_permanent_ones_only_when_asked(dag_env, tmp_path: Path):
    settings = load_settings()
    producer = kafka_producer(settings)
    now_ms = int(time.time() * 1000)
    for value, written_ms in (
        (letter(settings, 1, "extraction_timeout", permanent=False), now_ms),
        (letter(settings, 2, "too_short", permanent=True), now_ms),
        (letter(settings, 3, "extraction_timeout", permanent=False), now_ms - 3 * 24 * 3600 * 1000),  # before the window
    ):
        producer.send(settings.topic_dlq, key=value.key(), value=value.model_dump_json().encode(), timestamp_ms=written_ms)
    producer.flush()
    producer.close()
    log = tmp_path / "redrive.log"

    (dry,) = run_once("news_redrive", dag_env, log, {"stage": "transform", "dry_run": True}).returns["redrive"]
    assert (dry["chosen"], dry["redriven"], dry["refused_permanent"], dry["dry_run"]) == (2, 1, 1, True)
    assert read_topic(settings, settings.topic_raw) == []

    (report,) = run_once("news_redrive", dag_env, log, {"stage": "transform"}).returns["redrive"]
    assert report["resent"] == {settings.topic_raw: 1} and report["article_ids"] == [f"{1:064x}"]
    assert report["refused_permanent"] == 1 and report["refused_article_ids"] == [f"{2:064x}"]
    assert [(record.key, record.value) for record in read_topic(settings, settings.topic_raw)] == [
        (f"{1:064x}".encode(), b'{"record": 1}')
    ]
    assert "left 1 permanent letters on" in log.read_text()

    conf = {"stage": "transform", "reason": "too_short", "include_permanent": True}
    (asked,) = run_once("news_redrive", dag_env, log, conf).returns["redrive"]
    assert (asked["chosen"], asked["redriven"], asked["refused_permanent"]) == (1, 1, 0)
    assert sorted(record.value for record in read_topic(settings, settings.topic_raw)) == [b'{"record": 1}', b'{"record": 2}']
