"""news_retention: articles older than an age leave the index, and ingest forgets them.

Daily, and by hand with a form: the age in days (default NEWSFLOW_RETENTION_DAYS; empty or 0:
keep every article) and a dry run (which counts, and deletes nothing). The steps:

1. `expire` (`newsflow.ops.retention`): count the articles published before the cutoff (now
   minus the age), or, undated, first seen before it, by source and by the date that decided;
   record the cutoff as ingest's retention horizon (ingest takes no article dated before it
   again); delete them from the index, a batch at a time, each batch forgotten by ingest's state;
   forget ingest's failures older than the cutoff.
2. `drop_retired`: delete the indices news_reindex (or `newsflow index migrate`) replaced once
   their time to be kept (NEWSFLOW_INDEX_KEEP_OLD_HOURS) has passed.

The tasks return counts and index names only.
"""

from datetime import UTC, datetime, timedelta

from airflow.sdk import Param, dag, task

from newsflow.ops.dags import RETRIES, drop_retired_indices, params
from newsflow.ops.retention import expire as expire_articles
from newsflow.settings import load_settings

settings = load_settings()


@dag(
    dag_id="news_retention",
    schedule="@daily",
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    default_args=RETRIES,
    tags=["newsflow", "search", "ingest"],
    doc_md=__doc__,
    params={
        "max_age_days": Param(
            settings.retention_days or None,
            type=["null", "integer"],
            minimum=0,
            title="Maximum age (days)",
            description="Articles older leave the index (by publication date, else first seen); empty or 0: keep all.",
        ),
        "dry_run": Param(False, type="boolean", title="Dry run", description="Only count what would go."),
    },
)
def news_retention() -> None:
    @task
    def expire() -> dict:
        chosen = params()
        if not chosen["max_age_days"]:
            return {"kept": f"every article: no maximum age (NEWSFLOW_RETENTION_DAYS is {settings.retention_days})"}
        report = expire_articles(settings, timedelta(days=chosen["max_age_days"]), datetime.now(UTC), chosen["dry_run"])
        return report.model_dump(mode="json")

    @task
    def drop_retired() -> list[str]:
        return [] if params()["dry_run"] else drop_retired_indices(settings)

    expire() >> drop_retired()


news_retention()
