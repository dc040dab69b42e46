"""What the DAGs of dags/ share: their assets, their retries, the run's params, the failure callback,
and the trigger that watches the index.

Airflow glue only; the work is the stages' (and `newsflow.ops`'). Imported by the DAG files and by
Airflow's triggerer (`IndexOutdated`, by its class path), never by the stages or the `newsflow` command.
"""

import asyncio
import logging
from collections.abc import AsyncGenerator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from airflow.sdk import Asset, AssetWatcher, get_current_context
from airflow.triggers.base import BaseEventTrigger, TriggerEvent
from elastic_transport import TransportError
from elasticsearch import ApiError

from newsflow.clients import elasticsearch_client
from newsflow.errors import ConfigError
from newsflow.settings import Settings, load_settings
from newsflow.sources import load_sources
from search.index import TEMPLATE_VERSION, drop_retired, outdated, template_name

log = logging.getLogger(__name__)

RETRIES: dict[str, Any] = {"retries": 3, "retry_delay": timedelta(minutes=1), "retry_exponential_backoff": True}


def news_raw(settings: Settings) -> Asset:
    """The asset of `news.raw`, which news_ingest and news_backfill update and news_quality follows."""
    # The full kafka:// form: the short one breaks DAG import when the Kafka provider is installed.
    return Asset(f"kafka://{settings.kafka_bootstrap_servers.split(',')[0]}/{settings.topic_raw}")


class IndexOutdated(BaseEventTrigger):
    """Fires when `search.index.outdated` finds the index behind the alias made from an older
    template version (or with other shards) than this newsflow's: the event of `index_template`.

    Runs in Airflow's triggerer, asking Elasticsearch every `poll_seconds`; it fires once for each
    reason it finds, not again while the same reason stands (the reindex is on its way).
    """

    def __init__(self, poll_seconds: float = 300.0) -> None:
        super().__init__()
        self.poll_seconds = poll_seconds

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return f"{type(self).__module__}.{type(self).__qualname__}", {"poll_seconds": self.poll_seconds}

    async def run(self) -> AsyncGenerator[TriggerEvent, None]:
        fired: str | None = None
        while True:
            reason = await asyncio.to_thread(self.reason)
            if reason and reason != fired:
                yield TriggerEvent({"reason": reason, "template_version": TEMPLATE_VERSION})
            fired = reason
            await asyncio.sleep(self.poll_seconds)

    @staticmethod
    def reason() -> str | None:
        settings = load_settings()
        es = elasticsearch_client(settings)
        try:
            return outdated(es, settings)
        except (ApiError, TransportError) as exc:  # Elasticsearch away: ask again at the next poll
            log.warning("cannot tell whether the index is outdated: Elasticsearch at %s: %s", settings.elasticsearch_url, exc)
            return None
        finally:
            es.close()


def index_template(settings: Settings) -> Asset:
    """The asset of the index template, at this newsflow's TEMPLATE_VERSION, which news_reindex is
    scheduled on: `IndexOutdated` gives it an event when the index behind the alias is older."""
    return Asset(
        name="news_index_template",
        uri=f"elasticsearch://{urlsplit(settings.elasticsearch_urls[0]).netloc}/_index_template/{template_name(settings)}",
        extra={"template_version": TEMPLATE_VERSION},
        watchers=[AssetWatcher(name="news_index_outdated", trigger=IndexOutdated())],
    )


def drop_retired_indices(settings: Settings) -> list[str]:
    """The task of news_reindex and news_retention: delete the replaced indices whose time to be kept has passed."""
    es = elasticsearch_client(settings)
    try:
        return drop_retired(es, settings, datetime.now(UTC))
    finally:
        es.close()


def source_ids(settings: Settings) -> list[str]:
    """The ids of the sources file, offered in the forms; none when it cannot be read (the run says why)."""
    try:
        return [source.id for source in load_sources(settings.sources_file)]
    except ConfigError:
        return []


def params() -> dict[str, Any]:
    """The params of the running task's DAG run: the form's values, or the defaults."""
    return dict(get_current_context()["params"])


def claimant() -> str:
    """Who claims the pages the running task publishes (`SeenStore.claim`): its task instance, which
    every try shares, so a retry takes over at once what its dead earlier try had claimed."""
    ti = get_current_context()["ti"]
    return f"airflow:{ti.dag_id}/{ti.run_id}/{ti.task_id}/{ti.map_index}"


def moment(text: str) -> datetime:
    """A date-time param (ISO 8601, as the form gives it) in UTC; one without an offset is UTC."""
    parsed = datetime.fromisoformat(text)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


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
