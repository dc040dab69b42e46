"""news_redrive: the dead letters of a stage, a reason and a time window, sent back to be handled anew.

Triggered by hand once a cause is fixed, with a form: the stage, the reason (empty: any), when the
letters were written (from, to; empty: the last 24 hours), whether permanent letters go too, and
a dry run. One task, `redrive`:

1. Read news.dlq and choose the letters of the stage and reason written in the window.
2. Leave the permanent ones (their input fails the same way again unless its cause was fixed:
   a 404, a too-short page) unless the form asks for them; count and name them.
3. Send the others back (`newsflow.ops.dlq.redrive`): a transform or index letter's record to the
   topic it was read from, with its key; an ingest letter's page fetched again at its source's
   next ingest run. Downstream is idempotent: a letter redriven twice stores nothing twice.
4. Return the summary: how many were chosen, redriven (by topic), refused as permanent, not
   redrivable (record too large to keep), and the first 100 article ids of each; the log names them all.
"""

import logging
from datetime import UTC, datetime, timedelta

from airflow.sdk import Param, dag, task

from newsflow.deadletters import STAGE_REASONS
from newsflow.ops.dags import RETRIES, moment, params
from newsflow.ops.dlq import read_letters, redrive_report, select
from newsflow.settings import load_settings

log = logging.getLogger("dags.news_redrive")
settings = load_settings()
REASONS = sorted({reason.value for reasons in STAGE_REASONS.values() for reason in reasons})


@dag(
    dag_id="news_redrive",
    schedule=None,
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    default_args=RETRIES,
    tags=["newsflow", "dead letters"],
    doc_md=__doc__,
    params={
        "stage": Param("transform", enum=list(STAGE_REASONS), title="Stage", description="The stage that wrote the letters."),
        "reason": Param(
            None, type=["null", "string"], enum=[None, *REASONS], title="Reason", description="Their reason code; empty: any."
        ),
        "since": Param(
            None,
            type=["null", "string"],
            format="date-time",
            title="From",
            description="Written at or after; empty: 24 hours ago.",
        ),
        "until": Param(None, type=["null", "string"], format="date-time", title="To", description="Written before; empty: now."),
        "include_permanent": Param(
            False,
            type="boolean",
            title="Permanent letters too",
            description="Also letters whose input would fail again unless its cause was fixed (a 404, a too-short page).",
        ),
        "dry_run": Param(False, type="boolean", title="Dry run", description="Only say what would be sent back."),
    },
)
def news_redrive() -> None:
    @task
    def redrive() -> dict:
        chosen = params()
        until = moment(chosen["until"]) if chosen["until"] else datetime.now(UTC)
        since = moment(chosen["since"]) if chosen["since"] else until - timedelta(hours=24)
        letters = select(read_letters(settings), stage=chosen["stage"], reason=chosen["reason"], since=since, until=until)
        report = redrive_report(settings, letters, chosen["include_permanent"], chosen["dry_run"])
        log.info(
            "redrive %s/%s from %s to %s%s: %d chosen, %d redriven %s, %d pages to fetch again, %d not redrivable",
            chosen["stage"],
            chosen["reason"] or "any",
            since.isoformat(),
            until.isoformat(),
            " (dry run)" if report.dry_run else "",
            report.chosen,
            report.redriven,
            report.resent,
            report.refetch,
            len(report.impossible),
        )
        log.info("article ids redriven: %s", ", ".join(report.article_ids) or "none")
        if report.refused_permanent:
            log.warning(
                "left %d permanent letters on %s, their input fails again unless its cause was fixed "
                "(set include_permanent to send them too): %s",
                report.refused_permanent,
                settings.topic_dlq,
                ", ".join(report.refused_article_ids),
            )
        return report.brief()

    redrive()


news_redrive()
