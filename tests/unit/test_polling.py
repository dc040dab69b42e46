"""When a source is polled next (`ingest.polling.next_poll`): at its interval, or right after the
change its feeds announce or their entries show, within its bounds."""

from datetime import UTC, datetime, timedelta

from ingest.polling import SLACK, due, next_poll, retry_later, shown_period
from newsflow.sources import Source

T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
SOURCE = Source(
    id="s", name="s", kind="feed", urls=["https://news.example/rss"], poll_interval_minutes=15, max_poll_interval_minutes=360
)
MINUTE = timedelta(minutes=1)


def test_a_source_without_a_period_is_polled_at_its_interval():
    state = next_poll(None, SOURCE, T0, changed_at=T0 - 5 * MINUTE, period=None)
    assert state.next_due_at == T0 + 15 * MINUTE and state.changed_at == T0 - 5 * MINUTE


def test_a_feed_announcing_an_hour_is_polled_right_after_its_next_build():
    built = T0 - 2 * MINUTE
    state = next_poll(None, SOURCE, T0, changed_at=built, period=timedelta(hours=1))
    assert state.next_due_at == built + timedelta(hours=1) + SLACK
    unchanged = next_poll(state, SOURCE, T0 + 5 * MINUTE, changed_at=None, period=None)  # a 304 read nothing
    assert unchanged.period == timedelta(hours=1) and unchanged.next_due_at == state.next_due_at


def test_a_change_overdue_brings_the_source_back_to_its_interval():
    state = next_poll(None, SOURCE, T0, changed_at=T0, period=timedelta(hours=1))
    late = state.next_due_at + MINUTE
    assert next_poll(state, SOURCE, late, changed_at=None, period=None).next_due_at == late + 15 * MINUTE


def test_a_period_shorter_than_the_interval_changes_nothing():
    state = next_poll(None, SOURCE, T0, changed_at=T0, period=timedelta(minutes=5))
    assert state.next_due_at == T0 + 15 * MINUTE


def test_the_entries_dates_show_the_period_the_shortest_gap_of_the_newest_four():
    hours = lambda *offsets: [T0 + timedelta(hours=offset) for offset in offsets]  # noqa: E731
    assert shown_period(hours(0, 4, 8.5, 12.5)) == timedelta(hours=4)
    assert shown_period(hours(0, 0.1, 4, 8, 12, 16)) == timedelta(hours=4)  # an old burst is past the newest four
    assert shown_period(hours(0, 4, 8)) is None  # too few to tell
    state = next_poll(
        None, SOURCE, T0 + timedelta(hours=12, minutes=3), changed_at=T0 + timedelta(hours=12), period=timedelta(hours=4)
    )
    assert state.next_due_at == T0 + timedelta(hours=16) + SLACK


def test_however_rare_the_changes_a_source_is_polled_within_its_longest_interval():
    state = next_poll(None, SOURCE, T0, changed_at=T0, period=timedelta(days=7))
    assert state.next_due_at == T0 + timedelta(minutes=360)


def test_a_source_never_polled_is_due_and_a_failed_run_is_tried_again_at_its_interval():
    assert due(None, T0)
    state = next_poll(None, SOURCE, T0, changed_at=T0, period=timedelta(hours=1))
    assert not due(state, T0 + 30 * MINUTE) and due(state, state.next_due_at)
    again = retry_later(state, SOURCE, T0 + 5 * MINUTE)
    assert again.next_due_at == T0 + 20 * MINUTE and again.period == timedelta(hours=1)
