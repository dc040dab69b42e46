"""news_ingest: every source, one mapped task each, publishes its new and changed articles to news.raw.

Airflow schedules and supervises; the pages travel through Kafka, never through XCom. Each task
returns only its small summary (discovered, new, not modified, skipped by reason, published). A
task whose records Kafka did not acknowledge fails, and its retry redoes the run: already
acknowledged articles are remembered and not published again.
"""

from datetime import UTC, datetime

from airflow.sdk import dag, task

from ingest.run import run_ingest
from newsflow.ops.dags import RETRIES, news_raw
from newsflow.settings import load_settings
from newsflow.sources import load_sources

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
)
def news_ingest() -> None:
    @task
    def source_ids() -> list[str]:
        return [source.id for source in load_sources(settings.sources_file)]

    @task(outlets=[news_raw(settings)], max_active_tis_per_dag=settings.ingest_parallel_sources, multiple_outputs=False)
    def ingest(source_id: str) -> dict:
        (summary,) = run_ingest(load_settings(), [source_id])
        return summary.model_dump()

    ingest.expand(source_id=source_ids())


news_ingest()
