"""The quality of each source's articles, measured, written to the `news-quality` index, and judged
(news_quality).

`measure` goes through these steps, for a window (the last hour, by default) and the baseline
before it (the 7 days before the window):

1. Ask the index, in one search, per source: its newest article (first seen, and published),
   its articles first seen in the window and in the baseline, of the window's the near-duplicates
   and the languages.
2. Read the dead letters news.dlq holds, and count each source's by stage and reason, in the
   window and in the baseline.
3. Make one `SourceQuality` per source of the sources file: hours since its newest article,
   articles per hour against its usual rate (the baseline's), the dead-letter rate of each
   reason, the reject rate (dead letters among articles and letters) against its usual one, the
   too-short/empty rate, the duplicate rate, the language mix; and judge it against the
   source's `quality` thresholds (`judge`): stale, or its reject rate jumped.
4. Write each to the quality index (`NEWSFLOW_QUALITY_INDEX`, made from its own template), its id
   the source and the time measured, so that a retried run writes the same documents again.

The rates are of what each stage handled in the window: an article indexed or a dead letter
written is one record handled.
"""

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from elasticsearch import Elasticsearch, helpers
from pydantic import BaseModel

from newsflow.clients import elasticsearch_client
from newsflow.errors import Reason
from newsflow.ops.dlq import StoredLetter, read_letters
from newsflow.settings import Settings
from newsflow.sources import QualityThresholds, Source

MIN_HANDLED = 5  # records a window must have handled before its reject rate can be said to jump
TOO_SHORT = (Reason.TOO_SHORT, Reason.EMPTY_BODY)

FLOAT = {"type": "float"}
MAPPING: dict[str, Any] = {  # of the quality index, JSON as Elasticsearch takes it
    "dynamic": "strict",
    "properties": {
        "measured_at": {"type": "date"},
        "source_id": {"type": "keyword"},
        "window_hours": FLOAT,
        "newest_first_seen_at": {"type": "date"},
        "newest_published_at": {"type": "date"},
        "hours_since_newest": FLOAT,
        "expected_interval_hours": FLOAT,
        "articles": {"type": "integer"},
        "articles_per_hour": FLOAT,
        "usual_articles_per_hour": FLOAT,
        "dead_letters": {"type": "object", "dynamic": True},  # by stage, then reason: dead_letters.transform.too_short
        "dead_letter_rates": {"type": "object", "dynamic": True},
        "reject_rate": FLOAT,
        "usual_reject_rate": FLOAT,
        "too_short_rate": FLOAT,
        "duplicates": {"type": "integer"},
        "duplicate_rate": FLOAT,
        "languages": {"type": "object", "dynamic": True},  # articles of the window by language: languages.en
        "stale": {"type": "boolean"},
        "reject_jump": {"type": "boolean"},
        "alerts": {"type": "text"},
    },
}


class SourceQuality(BaseModel):
    """One source's measures over a window: one document of the quality index."""

    measured_at: datetime
    source_id: str
    window_hours: float
    newest_first_seen_at: datetime | None
    newest_published_at: datetime | None
    hours_since_newest: float | None  # None: no article of it in the index
    expected_interval_hours: float
    articles: int
    articles_per_hour: float
    usual_articles_per_hour: float
    dead_letters: dict[str, dict[str, int]]  # stage → reason → letters
    dead_letter_rates: dict[str, dict[str, float]]
    reject_rate: float
    usual_reject_rate: float
    too_short_rate: float
    duplicates: int
    duplicate_rate: float
    languages: dict[str, int]
    stale: bool = False
    reject_jump: bool = False
    alerts: list[str] = []

    def brief(self) -> dict[str, Any]:
        """What an XCom carries of it: the source, the figures judged, the alerts."""
        return {
            "source_id": self.source_id,
            "hours_since_newest": self.hours_since_newest,
            "articles": self.articles,
            "reject_rate": self.reject_rate,
            "alerts": self.alerts,
        }


@dataclass(frozen=True)
class Counts:
    """What one source handled in a span of time: articles indexed, dead letters by (stage, reason)."""

    articles: int
    letters: Counter[tuple[str, str]]

    @property
    def handled(self) -> int:
        return self.articles + sum(self.letters.values())

    def share(self, count: int) -> float:
        return count / self.handled if self.handled else 0.0


def judge(quality: SourceQuality, window: Counts, thresholds: QualityThresholds) -> SourceQuality:
    """`quality` with its alerts: stale beyond `expected_interval_hours`, or its reject rate over
    `reject_rate_jump` times the usual one and over `min_reject_rate`, on at least MIN_HANDLED records."""
    alerts = []
    hours = quality.hours_since_newest
    stale = hours is None or hours > thresholds.expected_interval_hours
    if stale:
        seen = "no article of it in the index" if hours is None else f"its newest article was first seen {hours:.1f} h ago"
        alerts.append(
            f"source {quality.source_id} is stale: {seen}, beyond its expected interval of "
            f"{thresholds.expected_interval_hours:g} h (quality.expected_interval_hours)"
        )
    jump = (
        window.handled >= MIN_HANDLED
        and quality.reject_rate > thresholds.min_reject_rate
        and quality.reject_rate > quality.usual_reject_rate * thresholds.reject_rate_jump
    )
    if jump:
        letters = sum(window.letters.values())
        alerts.append(
            f"source {quality.source_id}'s reject rate jumped: {quality.reject_rate:.0%} of the last "
            f"{quality.window_hours:g} h ({letters} dead letters of {window.handled} records), usually "
            f"{quality.usual_reject_rate:.0%} (quality.reject_rate_jump {thresholds.reject_rate_jump:g}, "
            f"min_reject_rate {thresholds.min_reject_rate:g})"
        )
    return quality.model_copy(update={"stale": stale, "reject_jump": jump, "alerts": alerts})


def measure(
    settings: Settings, sources: list[Source], now: datetime, window: timedelta, baseline: timedelta
) -> list[SourceQuality]:
    """Measure, judge and write each source's quality (see the module's docstring)."""
    window_start, baseline_start = now - window, now - window - baseline
    es = elasticsearch_client(settings)
    try:
        found = _index_figures(es, settings, window_start, baseline_start, now)
        letters = read_letters(settings)
        measured = []
        for source in sources:
            figures = found.get(source.id, {})
            window_counts = Counts(figures.get("window", {}).get("doc_count", 0), _letters(letters, source.id, window_start, now))
            usual_counts = Counts(
                figures.get("baseline", {}).get("doc_count", 0), _letters(letters, source.id, baseline_start, window_start)
            )
            quality = _quality(source, figures, window_counts, usual_counts, now, window, baseline)
            measured.append(judge(quality, window_counts, source.quality))
        _write(es, settings, measured)
        return measured
    finally:
        es.close()


def _quality(
    source: Source, figures: dict[str, Any], window: Counts, usual: Counts, now: datetime, span: timedelta, baseline: timedelta
) -> SourceQuality:
    hours = span.total_seconds() / 3600
    newest_seen = _date(figures.get("newest_first_seen", {}).get("value_as_string"))
    duplicates = figures.get("window", {}).get("duplicates", {}).get("doc_count", 0)
    by_stage: dict[str, dict[str, int]] = {}
    for (stage, reason), count in sorted(window.letters.items()):
        by_stage.setdefault(stage, {})[reason] = count
    return SourceQuality(
        measured_at=now,
        source_id=source.id,
        window_hours=hours,
        newest_first_seen_at=newest_seen,
        newest_published_at=_date(figures.get("newest_published", {}).get("value_as_string")),
        hours_since_newest=(now - newest_seen).total_seconds() / 3600 if newest_seen else None,
        expected_interval_hours=source.quality.expected_interval_hours,
        articles=window.articles,
        articles_per_hour=window.articles / hours,
        usual_articles_per_hour=usual.articles / (baseline.total_seconds() / 3600),
        dead_letters=by_stage,
        dead_letter_rates={
            stage: {reason: window.share(n) for reason, n in reasons.items()} for stage, reasons in by_stage.items()
        },
        reject_rate=window.share(sum(window.letters.values())),
        usual_reject_rate=usual.share(sum(usual.letters.values())),
        too_short_rate=window.share(sum(n for (stage, reason), n in window.letters.items() if reason in TOO_SHORT)),
        duplicates=duplicates,
        duplicate_rate=duplicates / window.articles if window.articles else 0.0,
        languages={
            bucket["key"]: bucket["doc_count"] for bucket in figures.get("window", {}).get("languages", {}).get("buckets", [])
        },
    )


def _index_figures(
    es: Elasticsearch, settings: Settings, window_start: datetime, baseline_start: datetime, now: datetime
) -> dict[str, dict]:
    """Per source id: its newest dates, and its window's and baseline's articles (aggregations as Elasticsearch answers them)."""

    def seen(start: datetime, end: datetime) -> dict:
        return {"range": {"first_seen_at": {"gte": start.isoformat(), "lt": end.isoformat()}}}

    answer = es.search(
        index=settings.index_alias,
        size=0,
        aggs={
            "sources": {
                "terms": {"field": "source_id", "size": 10_000},
                "aggs": {
                    "newest_first_seen": {"max": {"field": "first_seen_at"}},
                    "newest_published": {"max": {"field": "published_at"}},
                    "window": {
                        "filter": seen(window_start, now),
                        "aggs": {
                            "duplicates": {"filter": {"exists": {"field": "duplicate_of"}}},
                            "languages": {"terms": {"field": "language", "size": 50}},
                        },
                    },
                    "baseline": {"filter": seen(baseline_start, window_start)},
                },
            }
        },
    )
    return {bucket["key"]: bucket for bucket in answer["aggregations"]["sources"]["buckets"]}


def _letters(letters: list[StoredLetter], source_id: str, start: datetime, end: datetime) -> Counter[tuple[str, str]]:
    return Counter(
        (stored.letter.stage, str(stored.letter.reason))
        for stored in letters
        if stored.letter and stored.letter.source_id == source_id and start <= stored.written_at < end
    )


def _date(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def ensure_quality_index(es: Elasticsearch, settings: Settings) -> None:
    """The quality index's template (over the news template, whose pattern may match its name) and the index."""
    es.indices.put_index_template(
        name=f"newsflow-{settings.quality_index}",
        index_patterns=[settings.quality_index],
        priority=500,  # the news template (`<alias>-*`, priority 0) must not apply to it
        template={
            "settings": {"number_of_shards": 1, "number_of_replicas": settings.index_replicas},
            "mappings": MAPPING,
        },
    )
    if not es.indices.exists(index=settings.quality_index):
        es.options(ignore_status=400).indices.create(index=settings.quality_index)  # 400: made meanwhile


def _write(es: Elasticsearch, settings: Settings, measured: list[SourceQuality]) -> None:
    ensure_quality_index(es, settings)
    helpers.bulk(
        es,
        (
            {
                "_index": settings.quality_index,
                "_id": f"{quality.source_id}:{quality.measured_at.isoformat()}",
                "_source": quality.model_dump(mode="json"),
            }
            for quality in measured
        ),
        refresh="wait_for",
    )
