"""How news_quality judges a source's figures against its thresholds (`newsflow.ops.quality.judge`)."""

from collections import Counter
from datetime import UTC, datetime

import pytest

from newsflow.ops.quality import MIN_HANDLED, Counts, SourceQuality, judge
from newsflow.sources import QualityThresholds

THRESHOLDS = QualityThresholds(expected_interval_hours=6, reject_rate_jump=3, min_reject_rate=0.2)


WELL = Counts(10, Counter())


def figures(hours_since_newest: float | None = 1.0, window: Counts = WELL, usual_reject_rate: float = 0.0):
    quality = SourceQuality(
        measured_at=datetime(2026, 12, 1, tzinfo=UTC),
        source_id="wire",
        window_hours=1,
        newest_first_seen_at=None,
        newest_published_at=None,
        hours_since_newest=hours_since_newest,
        expected_interval_hours=THRESHOLDS.expected_interval_hours,
        articles=window.articles,
        articles_per_hour=window.articles,
        usual_articles_per_hour=window.articles,
        dead_letters={},
        dead_letter_rates={},
        reject_rate=window.share(sum(window.letters.values())),
        usual_reject_rate=usual_reject_rate,
        too_short_rate=0,
        duplicates=0,
        duplicate_rate=0,
        languages={},
    )
    return judge(quality, window, THRESHOLDS)


def letters(n: int) -> Counter[tuple[str, str]]:
    return Counter({("transform", "too_short"): n})


@pytest.mark.parametrize(("hours", "stale"), [(0.5, False), (6.0, False), (6.1, True), (None, True)])
def test_a_source_is_stale_beyond_its_expected_interval_or_with_no_article(hours, stale):
    judged = figures(hours_since_newest=hours)
    assert judged.stale is stale and bool(judged.alerts) is stale
    if hours is None:
        assert judged.alerts == [
            "source wire is stale: no article of it in the index, beyond its expected interval of 6 h "
            "(quality.expected_interval_hours)"
        ]


def test_a_reject_rate_jumps_over_its_usual_times_the_factor():
    assert figures(window=Counts(5, letters(5)), usual_reject_rate=0.1).reject_jump is True  # 50% against 10%: over 3×
    assert figures(window=Counts(5, letters(5)), usual_reject_rate=0.2).reject_jump is False  # 50% against 20%: under 3×


def test_a_low_reject_rate_is_no_jump_however_low_the_usual():
    assert figures(window=Counts(9, letters(1)), usual_reject_rate=0.0).reject_jump is False  # 10%: under min_reject_rate


def test_too_few_records_are_no_jump():
    few = Counts(1, letters(MIN_HANDLED - 2))
    assert few.handled == MIN_HANDLED - 1 and figures(window=few).reject_jump is False
    assert figures(window=Counts(1, letters(MIN_HANDLED - 1))).reject_jump is True
