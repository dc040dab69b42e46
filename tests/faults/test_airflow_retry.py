"""An ingest task killed mid-publish and run again publishes nothing that downstream would store twice.

The news_ingest DAG runs through Airflow (`newsflow.dagrun`, as the demo runs it) against the
sample site, slowed to a few pages a second; once some of its records are on news.raw, the run's
whole process group gets SIGKILL, as a worker lost by Airflow would. The same DAG run again (its
logical date given again: the same run id, the task instance cleared and tried again, as Airflow's
retry is) takes over what the dead try had claimed and publishes the rest: every sample article is
on news.raw, and an article published twice has the same id and the same page, so the index stores
it once. (A run of another DAG run would leave the dead try's claims alone for
NEWSFLOW_INGEST_CLAIM_SECONDS: a page claimed and not yet sent at the kill would be late.)
"""

import os
import signal
import subprocess
import time
import uuid
from collections import defaultdict
from datetime import UTC, datetime

import pytest
import yaml

from ingest.contract import RawArticle
from newsflow.dagrun import airflow_env, dagrun_command, run_once
from newsflow.ops.demo.site import SampleSite
from newsflow.settings import Settings
from tests.helpers import free_port, read_topic

pytestmark = pytest.mark.faults


def test_a_killed_and_retried_ingest_publishes_each_article_once_for_downstream(
    local_services: Settings, airflow_home, tmp_path, capsys
):
    prefix = f"faults-{uuid.uuid4().hex[:8]}"
    settings = local_services.model_copy(
        update={"topic_raw": f"{prefix}.raw", "topic_articles": f"{prefix}.articles", "topic_dlq": f"{prefix}.dlq"}
    )
    with SampleSite(free_port()) as site:
        sources = [{**source, "requests_per_second": 3} for source in site.sources()]
        (tmp_path / "sources.yaml").write_text(yaml.safe_dump({"sources": sources}))
        env = airflow_env(
            airflow_home,
            {
                **os.environ,
                "NEWSFLOW_STATE_DIR": str(tmp_path / "state"),
                "NEWSFLOW_SOURCES_FILE": str(tmp_path / "sources.yaml"),
                "NEWSFLOW_TOPIC_RAW": settings.topic_raw,
                "NEWSFLOW_TOPIC_ARTICLES": settings.topic_articles,
                "NEWSFLOW_TOPIC_DLQ": settings.topic_dlq,
            },
        )
        logical_date = datetime.now(UTC)
        killed = subprocess.Popen(
            dagrun_command("news_ingest", logical_date=logical_date),
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 300
        while len(read_topic(settings, settings.topic_raw)) < 8:
            assert killed.poll() is None and time.monotonic() < deadline, "the run ended before it could be killed"
            time.sleep(0.2)
        os.killpg(killed.pid, signal.SIGKILL)
        killed.wait()
        before = len(read_topic(settings, settings.topic_raw))
        assert before < len(site.news.articles)

        run_once("news_ingest", env, tmp_path / "retry.log", logical_date=logical_date)

    pages = defaultdict(set)
    records = read_topic(settings, settings.topic_raw)
    for record in records:
        raw = RawArticle.model_validate_json(record.value)
        pages[raw.article_id].add(raw.html)
    with capsys.disabled():
        print(
            f"\nairflow retry: {before} records on news.raw when the run was killed; after the retry "
            f"{len(records)} records for {len(pages)} articles ({len(records) - len(pages)} published again)"
        )
    assert len(pages) == len(site.news.articles)
    assert all(len(versions) == 1 for versions in pages.values())  # published twice at most as the same page
