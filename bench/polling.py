"""Adaptive polling against polling every source at its interval: fetches per published article and
the delay to first seen, on the demo site over two simulated days, in one run.

    .venv/bin/python bench/polling.py [--days 2] [--json]

Four publishers on one `NewsSite` (newsflow.ops.demo.site) publish on a simulated clock:

- live: RSS, an article every 10 minutes, the feed always current, nothing announced;
- hourly: RSS with <ttl>60</ttl>, rebuilt at minute 7 of each hour with what appeared since;
- daily: RSS with sy:updatePeriod daily, rebuilt at 06:23 with the day's articles (three);
- quiet: Atom, an article every 4 hours, the feed always current, nothing announced.

Each way replays the same timeline through `ingest.run.ingest_source` — the real fetcher over HTTP,
discovery, conditional GETs, ingest's state — with a stand-in for Kafka that acknowledges at once:

- before: news_ingest every 15 minutes, every source at every run (the poll interval, 15 minutes);
- after: news_ingest every 5 minutes, each source only when due (`ingest.polling`).

It prints, per source and in all: the runs, the requests the site served (robots.txt, listings,
pages), the articles published, requests per published article, and the delay from an article's
publication to its first sight (mean and 90th percentile), before → after.

With --json, the last line is one JSON object: `before` and `after`, each by source (and `all`): `runs`, `requests`,
`published`, `requests_per_article`, `delay_mean_min`, `delay_p90_min`; `requests_per_article_after_vs_before`; `days`.
"""

import argparse
import asyncio
import statistics
import sys
import tempfile
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any, cast

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.report import json_flag, print_json
from ingest.polling import due
from ingest.run import ingest_source
from ingest.state import SeenStore
from newsflow.ops.demo.site import NewsSite, Response, article_page
from newsflow.publisher import Publisher
from newsflow.settings import Settings
from newsflow.sources import Source

HOUR = timedelta(hours=1)
ITEMS = 20  # entries a feed lists, newest first


@dataclass(frozen=True)
class Publication:
    """A publisher of the simulation: when its articles appear, and when its feed shows them."""

    id: str
    kind: str  # rss or atom
    published: Callable[[datetime, datetime], list[datetime]]  # the articles' times between two moments
    built: Callable[[datetime, list[datetime]], datetime]  # when its feed at a moment was built, given its articles' times
    channel: str = ""  # what the RSS channel announces (ttl, sy:updatePeriod)


def every(step: timedelta, offset: timedelta = timedelta()) -> Callable[[datetime, datetime], list[datetime]]:
    def times(start: datetime, end: datetime) -> list[datetime]:
        found, moment = [], start + offset
        while moment < end:
            found.append(moment)
            moment += step
        return found

    return times


def live(moment: datetime, times: list[datetime]) -> datetime:
    """A feed always current: built when its newest article appeared."""
    return max(time for time in times if time <= moment)


def rebuilt_at(period: timedelta, offset: timedelta) -> Callable[[datetime, list[datetime]], datetime]:
    """The last build at or before a moment, of a feed rebuilt every `period`, `offset` into it."""

    def built(moment: datetime, times: list[datetime]) -> datetime:
        day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
        return day + offset + period * ((moment - day - offset) // period)

    return built


PUBLICATIONS = [
    Publication("live", "rss", every(timedelta(minutes=10), timedelta(minutes=3)), live),
    Publication(
        "hourly",
        "rss",
        every(timedelta(minutes=30), timedelta(minutes=11)),
        rebuilt_at(HOUR, timedelta(minutes=7)),
        "<ttl>60</ttl>",
    ),
    Publication(
        "daily",
        "rss",
        every(timedelta(hours=8), timedelta(hours=1, minutes=40)),
        rebuilt_at(timedelta(days=1), timedelta(hours=6, minutes=23)),
        "<sy:updatePeriod>daily</sy:updatePeriod><sy:updateFrequency>1</sy:updateFrequency>",
    ),
    Publication("quiet", "atom", every(timedelta(hours=4), timedelta(minutes=50)), live),
]


class Timeline:
    """The site at each simulated moment: each publisher's articles published so far, and its feed
    as last built (a feed unchanged since the last request answers 304, by its ETag)."""

    def __init__(self, site: NewsSite, start: datetime, end: datetime) -> None:
        self.site = site
        self.start = start  # articles published before are the feeds' backlog at the first run: no delay of polling
        self.articles = {publication.id: publication.published(start - timedelta(days=1), end) for publication in PUBLICATIONS}
        self.published_at: dict[str, datetime] = {}
        for publication in PUBLICATIONS:
            for moment in self.articles[publication.id]:
                path = f"/{publication.id}/news/{moment:%Y%m%d%H%M}"
                self.published_at[site.url(path)] = moment
                site.routes[path] = Response(article_page(f"{publication.id} at {moment:%H:%M}", ["What happened.", "More."]))
        site.routes["/robots.txt"] = Response(b"User-agent: *\nAllow: /\n", "text/plain")

    def at(self, moment: datetime) -> None:
        for publication in PUBLICATIONS:
            built = publication.built(moment, self.articles[publication.id])
            shown = [time for time in self.articles[publication.id] if time <= built][-ITEMS:][::-1]
            links = [(time, self.site.url(f"/{publication.id}/news/{time:%Y%m%d%H%M}")) for time in shown]
            self.site.routes[f"/{publication.id}/feed"] = feed(publication, built, links)


def feed(publication: Publication, built: datetime, links: list[tuple[datetime, str]]) -> Response:
    if publication.kind == "atom":
        entries = "".join(
            f"<entry><title>{url}</title><link href='{url}'/><id>{url}</id><updated>{time.isoformat()}</updated></entry>"
            for time, url in links
        )
        body = f"""<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>{publication.id}</title>
<id>urn:{publication.id}</id><updated>{built.isoformat()}</updated>{entries}</feed>"""
        return Response(body.encode(), "application/atom+xml")
    items = "".join(
        f"<item><title>{url}</title><link>{url}</link><pubDate>{format_datetime(time)}</pubDate></item>" for time, url in links
    )
    body = f"""<?xml version="1.0"?><rss version="2.0" xmlns:sy="http://purl.org/rss/1.0/modules/syndication/"><channel>
<title>{publication.id}</title><link>http://example.invalid/</link><description>bench</description>
<lastBuildDate>{format_datetime(built)}</lastBuildDate>{publication.channel}{items}</channel></rss>"""
    return Response(body.encode(), "application/rss+xml")


class Acknowledging:
    """Kafka's stand-in: every record acknowledged at once; the articles published, kept by URL."""

    def __init__(self) -> None:
        self.published: list[str] = []

    def send(self, topic: str, key: bytes | None, record: object, on_acknowledged: Callable[[], None] = lambda: None) -> None:
        if hasattr(record, "canonical_url"):
            self.published.append(record.canonical_url)
        on_acknowledged()

    def flush(self) -> int:
        return 0


@dataclass
class Tally:
    runs: int = 0
    requests: int = 0
    published: int = 0
    delays: list[float] = field(default_factory=list)  # minutes from publication to first sight


def replay(
    site: NewsSite, timeline: Timeline, sources: list[Source], start: datetime, end: datetime, tick: timedelta, adaptive: bool
) -> dict[str, Tally]:
    tallies: dict[str, Tally] = defaultdict(Tally)
    with tempfile.TemporaryDirectory() as state_dir:
        # A state index of its own, deleted after the replay: each way starts knowing nothing.
        settings = Settings(state_dir=Path(state_dir), ingest_state_index=f"bench-polling-{uuid.uuid4().hex[:8]}")
        store = SeenStore.open(settings)
        moment = start
        while moment < end:
            timeline.at(moment)
            for source in sources:
                if adaptive and not due(store.poll_state(source.id), moment):
                    continue
                publisher = Acknowledging()
                before = sum(site.requests.values())
                asyncio.run(ingest_source(settings, source, store, cast(Publisher, publisher), polled_at=moment))
                tally = tallies[source.id]
                tally.runs += 1
                tally.requests += sum(site.requests.values()) - before
                tally.published += len(publisher.published)
                published = [timeline.published_at[url] for url in publisher.published]
                tally.delays += [(moment - time).total_seconds() / 60 for time in published if time >= timeline.start]
            moment += tick
        store.delete_index()
        store.close()
    return tallies


def figures(tally: Tally) -> tuple[int, int, int, float, float, float]:
    delays = sorted(tally.delays) or [0.0]
    p90 = delays[min(len(delays) - 1, int(0.9 * len(delays)))]
    return tally.runs, tally.requests, tally.published, tally.requests / max(tally.published, 1), statistics.mean(delays), p90


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=float, default=2.0)
    json_flag(parser)
    args = parser.parse_args()
    # In the past: ingest compares listing dates with the real time of its last fetch.
    start = (datetime.now(UTC) - timedelta(days=args.days + 1)).replace(hour=0, minute=0, second=0, microsecond=0)
    end = start + timedelta(days=args.days)
    with NewsSite() as site:
        timeline = Timeline(site, start, end)
        sources = [
            Source(
                id=publication.id,
                name=publication.id,
                kind="feed",
                urls=[site.url(f"/{publication.id}/feed")],
                requests_per_second=1000,
                allow_networks=["127.0.0.0/8"],
            )
            for publication in PUBLICATIONS
        ]
        results = {
            "before": replay(site, timeline, sources, start, end, timedelta(minutes=15), adaptive=False),
            "after": replay(site, timeline, sources, start, end, timedelta(minutes=5), adaptive=True),
        }
    print(f"{args.days:g} simulated days; before: every source every 15 min; after: news_ingest every 5 min, sources when due")
    columns = (
        ("runs", 11),
        ("requests", 11),
        ("published", 11),
        ("requests/article", 17),
        ("mean delay min", 15),
        ("p90 delay min", 15),
    )
    print(f"{'source':8} " + " ".join(f"{name:>{width}}" for name, width in columns))
    total: dict[str, Tally] = {}
    for way, tallies in results.items():
        total[way] = Tally()
        for tally in tallies.values():
            total[way].runs += tally.runs
            total[way].requests += tally.requests
            total[way].published += tally.published
            total[way].delays += tally.delays
    keys = ("runs", "requests", "published", "requests_per_article", "delay_mean_min", "delay_p90_min")
    report: dict[str, Any] = {"days": args.days, "before": {}, "after": {}}
    for name in [*(publication.id for publication in PUBLICATIONS), "all"]:
        before, after = (figures(total[way] if name == "all" else results[way][name]) for way in ("before", "after"))
        report["before"][name], report["after"][name] = dict(zip(keys, before, strict=True)), dict(zip(keys, after, strict=True))
        print(
            f"{name:8} {before[0]:>5} → {after[0]:<4} {before[1]:>5} → {after[1]:<4} {before[2]:>5} → {after[2]:<4} "
            f"{before[3]:>7.2f} → {after[3]:<7.2f} {before[4]:>6.1f} → {after[4]:<6.1f} {before[5]:>6.1f} → {after[5]:<6.1f}"
        )
    ratio = figures(total["after"])[3] / figures(total["before"])[3]
    print(f"requests per published article, after/before: {ratio:.2f}")
    report["requests_per_article_after_vs_before"] = ratio
    print_json(args, report)


if __name__ == "__main__":
    main()
