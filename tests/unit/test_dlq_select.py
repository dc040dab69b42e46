"""Choosing dead letters (`newsflow.ops.dlq.select`), what a redrive would leave (`redrive_report`) and
counting them (`newsflow.ops.status.by_reason`), without Kafka."""

from datetime import UTC, datetime, timedelta

import pytest

from newsflow.deadletters import DeadLetter, Origin
from newsflow.errors import ConfigError
from newsflow.ops.dlq import MAX_IDS, RedriveReport, StoredLetter, _letter, redrive_report, select
from newsflow.ops.status import by_reason
from newsflow.settings import Settings

WRITTEN = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def stored(position: str, stage: str | None, reason: str = "", source_id: str | None = None) -> StoredLetter:
    """A letter at `position`; stage None: a record on news.dlq that is not a dead letter."""
    letter = (
        None
        if stage is None
        else DeadLetter(
            stage=stage,
            reason=reason,
            detail=f"{reason} at {position}",
            source_id=source_id,
            article_id=f"article-{position}",
            url=f"https://{source_id}.example/{position}" if source_id else None,
            origin=Origin(topic="news.raw", partition=0, offset=int(position.split(":")[1])),
            original="{}",
        )
    )
    return StoredLetter(position, WRITTEN, letter)


LETTERS = [
    stored("0:0", "ingest", "robots_disallowed", "orda-kz-en"),
    stored("0:1", "transform", "empty_body", "orda-kz-en"),
    stored("1:0", "transform", "empty_body", "tengri-ru"),
    stored("1:1", "index", "rejected", "tengri-ru"),
    stored("2:0", None),  # written by something else
    stored("2:1", "transform", "schema_violation", None),  # unreadable record: no article, no source
]


def positions(letters: list[StoredLetter]) -> list[str]:
    return [letter.position for letter in letters]


def test_no_filter_selects_every_letter_in_order():
    assert select(LETTERS) == LETTERS


def test_nothing_on_the_topic_selects_nothing():
    assert select([]) == []


def test_positions_select_those_letters():
    assert positions(select(LETTERS, positions=["1:1", "0:0"])) == ["0:0", "1:1"]  # in the topic's order


def test_a_position_given_twice_selects_its_letter_once():
    assert positions(select(LETTERS, positions=["0:1", "0:1"])) == ["0:1"]


def test_a_non_letter_can_be_selected_by_its_position():
    assert positions(select(LETTERS, positions=["2:0"])) == ["2:0"]


def test_stage_filter():
    assert positions(select(LETTERS, stage="transform")) == ["0:1", "1:0", "2:1"]


def test_reason_filter():
    assert positions(select(LETTERS, reason="empty_body")) == ["0:1", "1:0"]


def test_source_filter():
    assert positions(select(LETTERS, source_id="tengri-ru")) == ["1:0", "1:1"]


def test_a_filter_nothing_matches_selects_nothing():
    assert select(LETTERS, stage="index", reason="empty_body") == []
    assert select(LETTERS, source_id="nowhere") == []


def test_filters_combine():
    assert positions(select(LETTERS, stage="transform", source_id="orda-kz-en")) == ["0:1"]
    assert positions(select(LETTERS, stage="transform", reason="empty_body", source_id="tengri-ru")) == ["1:0"]


def test_filters_apply_to_the_given_positions_too():
    assert positions(select(LETTERS, positions=["0:0", "0:1", "1:1"], stage="transform")) == ["0:1"]


@pytest.mark.parametrize(
    "filters", [{"stage": "transform"}, {"reason": "empty_body"}, {"source_id": "orda-kz-en"}], ids=["stage", "reason", "source"]
)
def test_a_non_letter_never_matches_a_filter(filters):
    assert "2:0" not in positions(select(LETTERS, **filters))
    assert select(LETTERS, positions=["2:0"], **filters) == []


def test_a_letter_without_a_source_does_not_match_a_source_filter():
    assert "2:1" not in positions(select(LETTERS, source_id="orda-kz-en"))


def test_an_unknown_position_is_a_config_error_naming_it():
    with pytest.raises(ConfigError) as raised:
        select(LETTERS, positions=["0:1", "7:42"])
    message = str(raised.value)
    assert "7:42" in message and "\n" not in message


def test_an_unknown_position_is_refused_even_when_filters_would_leave_nothing():
    with pytest.raises(ConfigError, match="9:9"):
        select(LETTERS, positions=["9:9"], stage="index")


def test_a_malformed_position_is_an_unknown_one():
    with pytest.raises(ConfigError, match="three"):
        select(LETTERS, positions=["three"])


def test_the_first_unknown_position_is_named():
    with pytest.raises(ConfigError, match="5:5"):
        select(LETTERS, positions=["5:5", "6:6"])


# Counting


def test_letters_are_counted_by_stage_and_reason():
    assert by_reason(LETTERS) == {
        "ingest/robots_disallowed": 1,
        "transform/empty_body": 2,
        "index/rejected": 1,
        "transform/schema_violation": 1,
        "unreadable": 1,
    }


def test_no_letters_count_nothing():
    assert by_reason([]) == {}


# What is a letter


def test_a_record_that_is_a_dead_letter_is_read_as_one():
    letter = LETTERS[0].letter
    assert _letter(letter.model_dump_json().encode()) == letter


@pytest.mark.parametrize(
    "value",
    [None, b"", b"not json", b'{"stage": "ingest"}', b'{"stage": "crawl", "reason": "x", "detail": "y"}'],
    ids=["tombstone", "empty", "not-json", "incomplete", "unknown-stage"],
)
def test_a_record_that_is_not_a_dead_letter_reads_as_none(value):
    assert _letter(value) is None


def test_a_window_selects_the_letters_written_within_it():
    early, late = stored("3:0", "transform", "too_short"), stored("3:1", "transform", "too_short")
    early = StoredLetter(early.position, WRITTEN - timedelta(hours=30), early.letter)
    letters = [early, late]
    assert positions(select(letters, since=WRITTEN - timedelta(hours=24))) == ["3:1"]
    assert positions(select(letters, until=WRITTEN)) == ["3:0"]  # `until` excluded
    assert positions(select(letters, since=WRITTEN - timedelta(hours=48), until=WRITTEN + timedelta(seconds=1))) == ["3:0", "3:1"]


def test_a_report_leaves_the_permanent_letters_unless_asked_and_names_them():
    transient = stored("4:0", "ingest", "unreachable", "orda-kz-en")
    transient = StoredLetter(transient.position, WRITTEN, transient.letter.model_copy(update={"permanent": False}))
    permanent = stored("4:1", "ingest", "http_status", "orda-kz-en")
    report = redrive_report(Settings(), [transient, permanent], include_permanent=False, dry_run=True)
    assert (report.chosen, report.redriven, report.refused_permanent) == (2, 1, 1)
    assert (report.article_ids, report.refused_article_ids) == (["article-4:0"], ["article-4:1"])
    asked = redrive_report(Settings(), [transient, permanent], include_permanent=True, dry_run=True)
    assert (asked.redriven, asked.refused_permanent, asked.article_ids) == (2, 0, ["article-4:0", "article-4:1"])


def test_a_reports_brief_names_the_first_hundred_ids():
    report = RedriveReport(chosen=150, redriven=150, article_ids=[f"{n:064x}" for n in range(150)])
    assert len(report.brief()["article_ids"]) == MAX_IDS == 100 and report.brief()["redriven"] == 150


def test_a_letter_written_before_the_permanent_field_is_taken_as_permanent():
    old = DeadLetter.model_validate_json('{"stage": "ingest", "reason": "unreachable", "detail": "timed out"}')
    assert old.permanent is True
