"""news_backfill: a source's past articles, of a range of days, published to news.raw like any other.

Triggered by hand, with a form: the source, the first and the last day (UTC, both included), and
how many days one task takes. The steps:

1. `windows`: check the params and split the range into parts of `days_per_task` days, the
   latest first.
2. `backfill`, one mapped task per part, one at a time (the fetcher's politeness is per process:
   parallel tasks would multiply the rate at the source's hosts). Each reads the source's listings
   in full — sitemaps and the children of sitemap indexes not last modified before the part, news
   sitemaps' publication dates, feeds and their older pages (RFC 5005, JSON Feed's next_url), and
   the source's `archive_urls` for the part's days — keeps the links dated within the part, and
   fetches and publishes them as news_ingest does: politely, newest first, within the link caps
   (again and again while links are left over), each page acknowledged by Kafka before it is
   remembered.
3. `total`: the parts' counts added up.

Re-running it publishes nothing twice: an article published before is not fetched again unless
its listing dates it after our last fetch, and an unchanged page is not published. Each task
returns its summary only; the pages go through Kafka.
"""

from datetime import UTC, date, datetime, timedelta
from functools import reduce

from airflow.sdk import Param, dag, task

from ingest.run import IngestSummary, Window, run_backfill
from newsflow.ops.dags import RETRIES, claimant, news_raw, params, source_ids
from newsflow.settings import load_settings
from newsflow.sources import find_source, load_sources

settings = load_settings()


@dag(
    dag_id="news_backfill",
    schedule=None,
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    default_args=RETRIES,
    tags=["newsflow", "ingest"],
    doc_md=__doc__,
    params={
        "source": Param(
            "",
            type="string",
            minLength=1,
            title="Source",
            description="A source id of the sources file.",
            examples=source_ids(settings),
        ),
        "first_day": Param(
            None, type=["null", "string"], format="date", title="First day", description="UTC; empty: 7 days before the last."
        ),
        "last_day": Param(
            None, type=["null", "string"], format="date", title="Last day", description="UTC, included; empty: today."
        ),
        "days_per_task": Param(
            7, type="integer", minimum=1, maximum=366, title="Days per task", description="Each task's part of the range."
        ),
    },
)
def news_backfill() -> None:
    @task
    def windows() -> list[dict[str, str]]:
        chosen = params()
        find_source(load_sources(settings.sources_file), chosen["source"])
        last = date.fromisoformat(chosen["last_day"]) if chosen["last_day"] else datetime.now(UTC).date()
        first = date.fromisoformat(chosen["first_day"]) if chosen["first_day"] else last - timedelta(days=7)
        parts = Window.of_days(first, last).split(chosen["days_per_task"])
        return [{"start": part.start.isoformat(), "end": part.end.isoformat()} for part in parts]

    @task(outlets=[news_raw(settings)], max_active_tis_per_dag=1)
    def backfill(window: dict[str, str]) -> dict:
        part = Window(datetime.fromisoformat(window["start"]), datetime.fromisoformat(window["end"]))
        return run_backfill(load_settings(), params()["source"], part, claimant()).model_dump()

    @task
    def total(summaries: list[dict]) -> dict:
        parts = [IngestSummary.model_validate(summary) for summary in summaries]
        return reduce(IngestSummary.plus, parts).model_dump()

    total(backfill.expand(window=windows()))  # type: ignore[arg-type]  # the list of summaries, at run time


news_backfill()
