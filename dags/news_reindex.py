"""news_reindex: the index rebuilt from the current template, its alias swapped atomically.

Scheduled on the asset `news_index_template`, to which Airflow's triggerer gives an event when the
index behind the alias was made from an older template version than this newsflow's
(`search.index.TEMPLATE_VERSION`) or with other shards than `NEWSFLOW_INDEX_SHARDS`; also run by
hand, with a form. The steps:

1. `reindex`: unless the index is current and the form asks for a rebuild only if outdated,
   create the next physical index from the current template (shards, replicas, analysis, mapping),
   copy every document with its external version while the old one still serves, swap the alias
   in one atomic action, copy what was indexed meanwhile, and mark the old index to be kept for
   `keep_old_hours`.
2. `drop_retired`: delete the old indices whose time to be kept has passed (news_retention does too).

Documents stay in Elasticsearch; the tasks return the index names and counts only.
"""

from datetime import UTC, datetime, timedelta

from airflow.sdk import Param, dag, task

from newsflow.clients import elasticsearch_client
from newsflow.ops.dags import RETRIES, drop_retired_indices, index_template, params
from newsflow.settings import load_settings
from search.index import migrate, outdated, physical_index

settings = load_settings()


@dag(
    dag_id="news_reindex",
    schedule=[index_template(settings)],
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    default_args=RETRIES,
    tags=["newsflow", "search"],
    doc_md=__doc__,
    params={
        "rebuild": Param(
            "if outdated",
            enum=["if outdated", "always"],
            title="Rebuild",
            description="'if outdated': only an index of an older template version or other shards; 'always': in any case.",
        ),
        "keep_old_hours": Param(
            settings.index_keep_old_hours,
            type="number",
            minimum=0,
            title="Keep the old index (hours)",
            description="How long the replaced index stays before drop_retired deletes it.",
        ),
    },
)
def news_reindex() -> None:
    @task
    def reindex() -> dict:
        chosen = params()
        es = elasticsearch_client(settings)
        try:
            reason = outdated(es, settings)
            if reason is None and chosen["rebuild"] == "if outdated":
                return {"rebuilt": False, "index": physical_index(es, settings), "reason": "current"}
            old, new, copied = migrate(es, settings, timedelta(hours=chosen["keep_old_hours"]))
            return {"rebuilt": True, "old": old, "index": new, "copied": copied, "reason": reason or "asked"}
        finally:
            es.close()

    @task
    def drop_retired() -> list[str]:
        return drop_retired_indices(settings)

    reindex() >> drop_retired()


news_reindex()
