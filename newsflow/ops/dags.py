"""What the DAGs of dags/ share: their assets, their retries, the run's params, the failure callback.

Airflow glue only; the work is the stages' (and `newsflow.ops`'). Imported by the DAG files, never
by the stages or the `newsflow` command.
"""

import logging
from datetime import timedelta
from typing import Any

from airflow.sdk import Asset, get_current_context

from newsflow.errors import ConfigError
from newsflow.settings import Settings
from newsflow.sources import load_sources

log = logging.getLogger(__name__)

RETRIES: dict[str, Any] = {"retries": 3, "retry_delay": timedelta(minutes=1), "retry_exponential_backoff": True}


def news_raw(settings: Settings) -> Asset:
    """The asset of `news.raw`, which news_ingest and news_backfill update and news_quality follows."""
    # The full kafka:// form: the short one breaks DAG import when the Kafka provider is installed.
    return Asset(f"kafka://{settings.kafka_bootstrap_servers.split(',')[0]}/{settings.topic_raw}")


def source_ids(settings: Settings) -> list[str]:
    """The ids of the sources file, offered in the forms; none when it cannot be read (the run says why)."""
    try:
        return [source.id for source in load_sources(settings.sources_file)]
    except ConfigError:
        return []


def params() -> dict[str, Any]:
    """The params of the running task's DAG run: the form's values, or the defaults."""
    return dict(get_current_context()["params"])


def log_failure(context: Any) -> None:
    """on_failure_callback: one line naming the DAG, the task and why, for the logs and whoever watches them."""
    task_instance = context["task_instance"]
    log.error(
        "newsflow DAG %s failed: task %s (try %s): %s",
        task_instance.dag_id,
        task_instance.task_id,
        task_instance.try_number,
        context.get("exception"),
    )
