"""news_quality: each source's freshness, volume and rejects, written to news-quality, loud when unwell.

Hourly, on each update of news.raw (news_ingest, news_backfill), and by hand with a form: the
window (hours) and the baseline (days before it), and the sources (empty: all). The steps:

1. `measure` (`newsflow.ops.quality`): per source of the sources file, the time since its newest
   article, its articles per hour against its usual rate, its dead-letter rate by reason, its
   too-short/empty rate, its duplicate rate and its language mix, each judged against the
   source's `quality` thresholds; one document per source to NEWSFLOW_QUALITY_INDEX (Kibana's
   dashboard shows them). Returns the judged figures only.
2. `check`: a source stale beyond `quality.expected_interval_hours`, or whose reject rate jumped
   (over `quality.reject_rate_jump` times its usual rate, and over `quality.min_reject_rate`),
   fails the run: one log line per alert, `news_quality ALERT: ...`, and the task's
   on_failure_callback logs `newsflow DAG news_quality failed: ...`. It is not retried: the
   next run judges again, and passes once the source recovers.
"""

import logging
from datetime import UTC, datetime, timedelta

from airflow.sdk import AssetOrTimeSchedule, CronTriggerTimetable, Param, dag, get_current_context, task

from newsflow.errors import QualityAlert
from newsflow.ops.dags import RETRIES, log_failure, news_raw, params, source_ids
from newsflow.ops.quality import measure as measure_sources
from newsflow.settings import load_settings
from newsflow.sources import find_source, load_sources

log = logging.getLogger("dags.news_quality")
settings = load_settings()


@dag(
    dag_id="news_quality",
    schedule=AssetOrTimeSchedule(timetable=CronTriggerTimetable("0 * * * *", timezone="UTC"), assets=[news_raw(settings)]),
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    default_args=RETRIES,
    tags=["newsflow", "quality"],
    doc_md=__doc__,
    params={
        "window_hours": Param(1, type="number", exclusiveMinimum=0, title="Window (hours)", description="The span measured."),
        "baseline_days": Param(
            7, type="number", exclusiveMinimum=0, title="Baseline (days)", description="The span before it: the usual rates."
        ),
        "sources": Param(
            [],
            type="array",
            items={"type": "string"},
            title="Sources",
            description="Source ids of the sources file; empty: every source.",
            examples=source_ids(settings),
        ),
    },
)
def news_quality() -> None:
    @task
    def measure() -> list[dict]:
        chosen = params()
        sources = load_sources(settings.sources_file)
        if chosen["sources"]:
            sources = [find_source(sources, source_id) for source_id in chosen["sources"]]
        measured_at = get_current_context()["dag_run"].run_after  # the same at every try: a retry rewrites its documents
        window, baseline = timedelta(hours=chosen["window_hours"]), timedelta(days=chosen["baseline_days"])
        return [quality.brief() for quality in measure_sources(settings, sources, measured_at, window, baseline)]

    @task(retries=0, on_failure_callback=log_failure)
    def check(measured: list[dict]) -> int:
        alerts = [alert for quality in measured for alert in quality["alerts"]]
        for alert in alerts:
            log.error("news_quality ALERT: %s", alert)
        if alerts:
            raise QualityAlert(f"{len(alerts)} alerts: {'; '.join(alerts)}")
        log.info("news_quality: %d sources well", len(measured))
        return len(measured)

    check(measure())  # type: ignore[arg-type]  # the list of figures, at run time


news_quality()
