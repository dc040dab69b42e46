"""When each source is polled next: adaptively, where its feeds announce or their entries show how
often it changes.

After each regular run, `next_poll` takes these steps:

1. When the run found new articles, the source changed: at the time its feeds say they were built
   (RSS lastBuildDate, Atom updated), else at its newest new article's date, else now.
2. Its period: what its feeds announce (RSS ttl, sy:updatePeriod), else the shortest gap between
   the dates of their newest entries (`shown_period`: the cautious guess); kept from the last run
   that read its feeds (a 304 reads nothing).
3. The next poll: with a period at least `poll_interval_minutes` long, right after the change it
   expects (the last change plus the period, plus SLACK), if that is still ahead; otherwise — no
   period, a shorter one (it changes more often than it is polled anyway), or a change overdue —
   `poll_interval_minutes` from now, as without adaptation. Never later than
   `max_poll_interval_minutes` from now.

So a source that changes often is polled every `poll_interval_minutes`, and one that changes
hourly or daily (and says so, or keeps to it) once per change, right after it; news_ingest fetches
only the sources due (`due`).
"""

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from itertools import pairwise

from newsflow.sources import Source

ENTRIES_NEEDED = 4  # dated entries before their gaps say how often a source changes
SLACK = timedelta(minutes=1)  # after the expected change: the feed has been rebuilt by then


@dataclass(frozen=True)
class PollState:
    """What ingest keeps of a source's polling: when it is due, and what that was judged from."""

    next_due_at: datetime
    changed_at: datetime | None = None  # when it last changed, as far as we know
    period: timedelta | None = None  # how often it changes: as announced, or as its entries show


def shown_period(dates: list[datetime]) -> timedelta | None:
    """How often a source's entries appear, by their dates: the shortest gap between the newest
    ENTRIES_NEEDED of them; None with fewer."""
    newest = sorted(set(dates), reverse=True)[:ENTRIES_NEEDED]
    if len(newest) < ENTRIES_NEEDED:
        return None
    return min(later - earlier for later, earlier in pairwise(newest))


def next_poll(
    previous: PollState | None, source: Source, now: datetime, changed_at: datetime | None, period: timedelta | None
) -> PollState:
    """The source's polling state after a run at `now` that saw it change at `changed_at` (None: no
    change) and judged its period `period` (None: no feed read, or none to judge by)."""
    last = previous.changed_at if previous else None
    if changed_at and (last is None or changed_at > last):
        last = changed_at
    every = period or (previous.period if previous else None)
    interval = timedelta(minutes=source.poll_interval_minutes)
    expected = last + every + SLACK if last and every and every >= interval else None
    next_due_at = expected if expected and expected > now else now + interval
    return PollState(min(next_due_at, now + timedelta(minutes=source.max_poll_interval_minutes)), last, every)


def retry_later(previous: PollState | None, source: Source, now: datetime) -> PollState:
    """After a failed run: the same state, due again in `poll_interval_minutes`."""
    next_due_at = now + timedelta(minutes=source.poll_interval_minutes)
    return replace(previous, next_due_at=next_due_at) if previous else PollState(next_due_at)


def due(state: PollState | None, now: datetime) -> bool:
    """Whether a source with this polling state is due at `now` (one never polled is)."""
    return state is None or state.next_due_at <= now
