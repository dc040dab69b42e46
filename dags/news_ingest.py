"""news_ingest: every source due, one mapped task each, publishes its new and changed articles to news.raw.

Scheduled by NEWSFLOW_INGEST_SCHEDULE (every 5 minutes). Each run takes only the sources due
(`ingest.polling`: each at its poll interval, or — when its feeds announce how often they change
(RSS ttl, sy:updatePeriod) or its history shows it — right after its next expected change; the
next due time is kept in ingest's state). Run by hand, its form may name sources (taken whether
due or not), or take every source.

Airflow schedules and supervises; the pages travel through Kafka, never through XCom. Each task
returns only its small summary (discovered, new, not modified, skipped by reason, published). A
task whose records Kafka did not acknowledge fails, and its retry redoes the run: already
acknowledged articles are remembered and not published again.
"""

from datetime import UTC, datetime

from airflow.sdk import Param, dag, task

from ingest.polling import due
from ingest.run import run_ingest
from ingest.state import SeenStore
from newsflow.ops.dags import RETRIES, claimant, news_raw, params, source_ids
from newsflow.settings import load_settings
from newsflow.sources import find_source, load_sources

settings = load_settings()


@dag(
    dag_id="news_ingest",
    schedule=settings.ingest_schedule,
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    default_args=RETRIES,
    tags=["newsflow", "ingest"],
    doc_md=__doc__,
    params={
        "sources": Param(
            [],
            type="array",
            items={"type": "string"},
            title="Sources",
            description="Source ids of the sources file, due or not; empty: the sources due (or all, below).",
            examples=source_ids(settings),
        ),
        "only_due": Param(True, type="boolean", title="Only the sources due", description="Off: every source, due or not."),
    },
)
def news_ingest() -> None:
    @task
    def chosen_sources() -> list[str]:
        sources = load_sources(settings.sources_file)
        chosen = params()
        if chosen["sources"]:
            return [find_source(sources, source_id).id for source_id in chosen["sources"]]
        if not chosen["only_due"]:
            return [source.id for source in sources]
        store = SeenStore.open(settings)
        try:
            now = datetime.now(UTC)
            return [source.id for source in sources if due(store.poll_state(source.id), now)]
        finally:
            store.close()

    @task(outlets=[news_raw(settings)], max_active_tis_per_dag=settings.ingest_parallel_sources, multiple_outputs=False)
    def ingest(source_id: str) -> dict:
        (summary,) = run_ingest(load_settings(), [source_id], claimant=claimant())
        return summary.model_dump()

    ingest.expand(source_id=chosen_sources())


news_ingest()
