"""The hostile-input corpus: each kind ends in a reason code or a correct article, never a crash or a hang.

Three tables, one line per kind:
- INGEST: a hostile local server (tests/faults/hostile.py) behind one source, through `ingest_source`
  and the real Kafka; the outcome is the run's summary (published, or skipped by reason). The
  compression bombs again through `newsflow ingest` in a process of their own, for its peak RSS.
- PAGES: a page or record for transform, through `normalize` under the worker's own deadline.
- The same pages, and unreadable or oversized records, through `newsflow worker transform` on the
  real Kafka: every record ends as exactly one article or one dead letter with the expected reason.
Then the fetcher's network layer on its own: internal addresses, DNS rebinding (a resolver patched to
answer differently the second time), TLS to a pinned address, the encodings it asks for, and
validators (ETag, Last-Modified) that cannot be sent back.
The outcome of every kind, the peak memory figures and the wall time of the large listings are
printed at the end of the session.
"""

import asyncio
import contextlib
import faulthandler
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from ipaddress import ip_network
from pathlib import Path

import pytest
import yaml

from ingest.contract import Discovery, RawArticle
from ingest.fetcher import Fetcher, NotModified, Page, Validators
from ingest.run import IngestSummary, ingest_source
from newsflow.clients import kafka_admin, kafka_producer
from newsflow.deadletters import STAGE_REASONS, DeadLetter
from newsflow.errors import Rejected
from newsflow.publisher import Publisher
from newsflow.settings import Settings, load_settings
from newsflow.sources import Source
from newsflow.urls import canonical_url
from tests.articles import SEED, article
from tests.faults import hostile as h
from tests.helpers import ingest_state_of_test, own_topics, read_topic, run_newsflow, wait_for
from transform.contract import NormalizedArticle
from transform.normalize import normalize
from transform.worker import _deadline

pytestmark = pytest.mark.faults

MIB = 1024 * 1024
HANG_GUARD = 300  # seconds: a test still running then dumps its stacks and ends the session
OUTCOMES: dict[str, str] = {}  # kind → what became of it, for the report at the end
PEAKS: dict[str, float] = {}  # MiB
WALL_TIMES: dict[str, float] = {}  # seconds, of the large-listing cases


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@pytest.fixture(scope="module", autouse=True)
def report(request):
    """Print every kind's outcome and the peak memory at the end, whatever `-s` says."""
    yield
    PEAKS["pytest process (ru_maxrss)"] = _peak_mib()
    lines = [
        "",
        f"hostile-input corpus: {len(OUTCOMES)} kinds",
        *(f"  {kind:36} {outcome}" for kind, outcome in OUTCOMES.items()),
        *(f"peak RSS {what}: {mib:.0f} MiB" for what, mib in PEAKS.items()),
        *(f"wall time {what}: {seconds:.1f} s (goal: under 60 s)" for what, seconds in WALL_TIMES.items()),
    ]
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled():  # teardown output is captured otherwise
        terminal = request.config.pluginmanager.get_plugin("terminalreporter")
        for line in lines:
            terminal.write_line(line) if terminal else print(line, file=sys.__stdout__)


@pytest.fixture(autouse=True)
def hang_guard():
    faulthandler.dump_traceback_later(HANG_GUARD, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()


# Ingest ---------------------------------------------------------------------------------------

Routes = Callable[[h.HostileServer], dict[str, h.Behaviour]]


@dataclass(frozen=True)
class IngestKind:
    name: str
    kind: str  # the source's kind: feed or sitemap
    listing: str  # path of the source's feed or sitemap
    routes: Routes  # what the server answers
    expect: dict[str, int]  # "published" and skip reasons, as counted by the run
    allow: tuple[str, ...] = ("127.0.0.0/8",)
    never_in_records: bytes = b""  # must appear in no record (a leaked file)
    letters: dict[str, int] | None = None  # dead letters by reason; None: the skips of `expect` that are dead-lettered
    requests: dict[str, int] = field(default_factory=dict)  # requests the server must have had, by path
    large: bool = False  # a large or cyclic listing (issue 14): its wall time is reported


PAGE = h.article().encode()
ROBOTS_OK = h.send(b"User-agent: *\nAllow: /\n", "text/plain")


def feed(*links: str, robots: h.Behaviour = ROBOTS_OK, **routes: h.Behaviour) -> Routes:
    """An RSS feed at /feed.xml linking to `links` (paths on the server or full URLs), and `routes`
    (keyword = path without its leading slash, '__' for '/')."""

    def build(server: h.HostileServer) -> dict[str, h.Behaviour]:
        urls = [link if "://" in link else server.url(link) for link in links]
        return {
            "/robots.txt": robots,
            "/feed.xml": h.send(h.rss_with("", "Feed", urls), "application/rss+xml"),
            **{"/" + path.replace("__", "/"): behaviour for path, behaviour in routes.items()},
        }

    return build


def listing(body: Callable[[h.HostileServer], bytes], content_type: str = "application/xml", **headers: str) -> Routes:
    """A feed or sitemap at /listing whose body is built with the server's URL; /a is a good page."""
    return lambda server: {
        "/robots.txt": ROBOTS_OK,
        "/a": h.send(PAGE),
        "/listing": h.send(body(server), content_type, 200, **headers),
    }


def redirect_to(target: str) -> Routes:
    return feed("/r", r=h.redirect(target))


def robots(behaviour: h.Behaviour, *links: str) -> Routes:
    return feed(*links, robots=behaviour, a=h.send(PAGE), private__b=h.send(PAGE), b_print=h.send(PAGE))


GZIP_BOMB = h.gzip_bomb(1024 * MIB)
PER_LISTING = Settings.model_fields["ingest_max_links_per_listing"].default
CP1251_NEAR_CAP = (
    "<html><head><meta charset='windows-1251'><title>Большая</title></head><body><article><p>"
    + "Токаев подписал закон. " * 450_000
    + "</p></article></body></html>"
).encode("windows-1251")
ONLY_US = b"User-agent: newsflow\nDisallow: /\n\nUser-agent: *\nAllow: /\n"
WILDCARDS = b"User-agent: *\nDisallow: /*?print=\nDisallow: /*.pdf$\nDisallow: /private/\nAllow: /\n"

INGEST = [
    IngestKind(
        "feed-billion-laughs",
        "feed",
        "/listing",
        listing(lambda s: h.rss_with(h.BILLION_LAUGHS_DTD, "&lol9;", [s.url("/a")])),
        {"published": 1},
    ),
    IngestKind(
        "feed-quadratic-blowup",
        "feed",
        "/listing",
        listing(lambda s: h.rss_with(h.QUADRATIC_DTD, "&big;" * 5000, [s.url("/a")])),
        {"published": 1},
    ),
    IngestKind(
        "feed-xxe",
        "feed",
        "/listing",
        listing(lambda s: h.rss_with(h.XXE_DTD, "&xxe;", [s.url("/a")])),
        {"published": 1},
        never_in_records=b"root:x:0:0",
    ),
    IngestKind(
        "sitemap-billion-laughs",
        "sitemap",
        "/listing",
        listing(lambda s: h.sitemap_with(h.BILLION_LAUGHS_DTD, "&lol9;", [s.url("/a")])),
        {"invalid_listing": 1},
    ),
    IngestKind(
        "sitemap-xxe",
        "sitemap",
        "/listing",
        listing(lambda s: h.sitemap_with(h.XXE_DTD, "&xxe;", [s.url("/a")])),
        {"published": 1},
        never_in_records=b"root:x:0:0",
    ),
    IngestKind(
        "sitemap-gzip-bomb",
        "sitemap",
        "/listing",
        listing(lambda s: h.gzipped_sitemap_bomb(1024 * MIB), "application/x-gzip"),
        {"too_large": 1},
        letters={},
    ),
    IngestKind(
        "page-gzip-bomb",
        "feed",
        "/feed.xml",
        feed("/bomb", bomb=h.send(GZIP_BOMB, Content_Encoding="gzip")),
        {"too_large": 1},
    ),
    IngestKind(
        "page-stacked-gzip-bomb",  # 1.8 KB: gzip of the gzip bomb
        "feed",
        "/feed.xml",
        feed("/bomb", bomb=h.send(h.gzip_page(GZIP_BOMB), Content_Encoding="gzip, gzip")),
        {"unsupported_content_encoding": 1},
    ),
    IngestKind(
        "page-zstd-bomb",  # sent although not asked for
        "feed",
        "/feed.xml",
        feed("/bomb", bomb=h.send(h.zstd_bomb(1024 * MIB), Content_Encoding="zstd")),
        {"unsupported_content_encoding": 1},
    ),
    IngestKind(
        "page-unknown-encoding",
        "feed",
        "/feed.xml",
        feed("/x", x=h.send(b"\x1b\x00\xf8" + PAGE, Content_Encoding="br")),
        {"unsupported_content_encoding": 1},
    ),
    IngestKind(
        "page-corrupt-gzip",
        "feed",
        "/feed.xml",
        feed("/x", x=h.send(b"\x1f\x8b\x08\x00" + PAGE, Content_Encoding="gzip")),
        {"undecodable": 1},
    ),
    IngestKind(
        "page-deflate-bomb",
        "feed",
        "/feed.xml",
        feed("/bomb", bomb=h.send(h.deflate_bomb(1024 * MIB), Content_Encoding="deflate")),
        {"too_large": 1},
    ),
    IngestKind("page-50mb-declared", "feed", "/feed.xml", feed("/big", big=h.send(b"<p>" + b"x" * 50 * MIB)), {"too_large": 1}),
    IngestKind("page-50mb-chunked", "feed", "/feed.xml", feed("/big", big=h.large_streamed(50 * MIB)), {"too_large": 1}),
    IngestKind("page-endless-chunked", "feed", "/feed.xml", feed("/endless", endless=h.endless()), {"too_large": 1}),
    IngestKind("page-slow-drip", "feed", "/feed.xml", feed("/drip", drip=h.drip()), {"unreachable": 1}),
    IngestKind(
        "feed-slow-drip",
        "feed",
        "/listing",
        lambda s: {"/robots.txt": ROBOTS_OK, "/listing": h.drip()},
        {"unreachable": 1},
        letters={},
    ),
    IngestKind(
        "redirect-loop",
        "feed",
        "/feed.xml",
        feed("/loop1", loop1=h.redirect("/loop2"), loop2=h.redirect("/loop1")),
        {"too_many_redirects": 1},
    ),
    IngestKind(
        "redirect-chain",
        "feed",
        "/feed.xml",
        feed("/r0", **{f"r{n}": h.redirect(f"/r{n + 1}") for n in range(20)}),
        {"too_many_redirects": 1},
    ),
    IngestKind(
        "redirect-to-metadata",
        "feed",
        "/feed.xml",
        redirect_to("http://169.254.169.254/latest/meta-data/"),
        {"ssrf_refused": 1},
        allow=("127.0.0.1/32",),
    ),
    IngestKind(
        "redirect-to-private",
        "feed",
        "/feed.xml",
        redirect_to("http://10.0.0.1/admin"),
        {"ssrf_refused": 1},
        allow=("127.0.0.1/32",),
    ),
    IngestKind(
        "redirect-to-loopback",
        "feed",
        "/feed.xml",
        redirect_to("http://127.0.0.2:9200/_cat/indices"),
        {"ssrf_refused": 1},
        allow=("127.0.0.1/32",),
    ),
    IngestKind(
        "redirect-to-ipv6-loopback",
        "feed",
        "/feed.xml",
        redirect_to("http://[::1]:9200/"),
        {"ssrf_refused": 1},
        allow=("127.0.0.1/32",),
    ),
    IngestKind("redirect-to-file", "feed", "/feed.xml", redirect_to("file:///etc/passwd"), {"ssrf_refused": 1}),
    IngestKind(
        "links-to-internal-addresses",
        "feed",
        "/feed.xml",
        feed(
            "http://169.254.169.254/latest/meta-data/iam/",
            "http://[fd00:ec2::254]/latest/",
            "http://10.1.2.3/",
            "http://192.168.0.1/",
            "http://100.64.0.1/",
            "http://[fe80::1]/",
            "http://[::ffff:127.0.0.2]/",
            "http://[::ffff:169.254.169.254]/",
            "http://0.0.0.0/",
            "http://2130706434/",
            "http://[::]/",
            "http://224.0.0.1/",
        ),
        {"ssrf_refused": 12},
        allow=("127.0.0.1/32",),
    ),
    IngestKind("png-as-html", "feed", "/feed.xml", feed("/x", x=h.send(h.png())), {"wrong_content_type": 1}),
    IngestKind("pdf-as-html", "feed", "/feed.xml", feed("/x", x=h.send(h.pdf())), {"wrong_content_type": 1}),
    IngestKind("zip-as-html", "feed", "/feed.xml", feed("/x", x=h.send(h.zip_file())), {"wrong_content_type": 1}),
    IngestKind("invalid-utf8", "feed", "/feed.xml", feed("/x", x=h.send(h.invalid_utf8())), {"undecodable": 1}),
    IngestKind("mixed-encodings", "feed", "/feed.xml", feed("/x", x=h.send(h.mixed_encodings())), {"undecodable": 1}),
    IngestKind(
        "wrong-declared-charset",
        "feed",
        "/feed.xml",
        feed("/x", x=h.send(h.wrong_charset(), "text/html; charset=windows-1252")),
        {"published": 1},
    ),
    IngestKind("nul-bytes-at-start", "feed", "/feed.xml", feed("/x", x=h.send(b"\0" + PAGE)), {"wrong_content_type": 1}),
    IngestKind(
        "near-cap-page-large-record",
        "feed",
        "/feed.xml",
        feed("/x", x=h.send(CP1251_NEAR_CAP, "text/html; charset=windows-1251")),
        {"too_large": 1},
    ),
    IngestKind(  # 20 MiB: its first 500 KiB are read and obeyed (RFC 9309), the rest ignored
        "robots-huge",
        "feed",
        "/feed.xml",
        robots(h.send(b"User-agent: *\nDisallow: /private/\n" + b"# padding\n" * 2 * MIB, "text/plain"), "/a", "/private/b"),
        {"published": 1, "robots_disallowed": 1},
    ),
    IngestKind("robots-500", "feed", "/feed.xml", robots(h.status(500, b"oops"), "/a"), {"robots_disallowed": 1}, letters={}),
    IngestKind(
        "robots-redirect",
        "feed",
        "/feed.xml",
        lambda s: {
            **robots(h.redirect("/robots-elsewhere.txt"), "/a", "/private/b")(s),
            "/robots-elsewhere.txt": h.send(b"User-agent: *\nDisallow: /private/\n", "text/plain"),
        },
        {"published": 1, "robots_disallowed": 1},
    ),
    IngestKind(
        "robots-disallow-us-only",
        "feed",
        "/feed.xml",
        robots(h.send(ONLY_US, "text/plain"), "/a"),
        {"robots_disallowed": 1},
        letters={},
    ),
    IngestKind(
        "robots-wildcards",
        "feed",
        "/feed.xml",
        robots(h.send(WILDCARDS, "text/plain"), "/a", "/b?print=1", "/x.pdf", "/private/b"),
        {"published": 1, "robots_disallowed": 3},
    ),
    IngestKind("robots-slow-drip", "feed", "/feed.xml", robots(h.drip(), "/a"), {"robots_disallowed": 1}, letters={}),
    IngestKind(
        "feed-duplicate-links",
        "feed",
        "/listing",
        listing(lambda s: h.rss_with("", "Dup", [s.url("/a")] * 50 + [s.url("/a?utm_source=x"), s.url("/a#c")])),
        {"published": 1},
    ),
    IngestKind(
        "feed-thousands-of-items",
        "feed",
        "/listing",
        lambda s: {
            "/robots.txt": h.send(b"User-agent: *\nDisallow: /nope/\n", "text/plain"),
            "/a": h.send(PAGE),
            "/listing": h.send(
                h.rss_with("", "Many", [s.url("/a")] + [s.url(f"/nope/{n}") for n in range(5000)]), "application/rss+xml"
            ),
        },
        # all undated: document order; the first 1,000 (NEWSFLOW_INGEST_MAX_LINKS_PER_LISTING) are taken
        {"published": 1, "robots_disallowed": PER_LISTING - 1, "too_many_links": 5001 - PER_LISTING},
    ),
    IngestKind(
        "feed-not-xml",
        "feed",
        "/listing",
        listing(lambda s: b"\x89PNG\r\n\x1a\n\0\0\0" * 100, "application/rss+xml"),
        {"invalid_listing": 1},
    ),
    IngestKind(
        "sitemap-deeply-nested",
        "sitemap",
        "/listing",
        listing(lambda s: b"<urlset>" + b"<a>" * 100_000 + b"</a>" * 100_000 + b"</urlset>"),
        {"invalid_listing": 1},
    ),
    IngestKind(
        "json-feed-deeply-nested",
        "feed",
        "/listing",
        listing(lambda s: h.json_feed([{"url": s.url("/a")}]).replace(b"}]", b"}, " + b"[" * 100_000 + b"]" * 100_000 + b"]")),
        {"invalid_listing": 1},
    ),
    IngestKind(
        "json-feed-wrong-types",
        "feed",
        "/listing",
        listing(
            lambda s: h.json_feed(
                [
                    {"id": 1, "url": s.url("/a"), "title": 5},
                    {"url": ["x"]},
                    {"url": s.url("/b"), "authors": 5},
                    {"url": "http://[x/"},
                ]
            ),
            "application/feed+json",
        ),
        {"published": 1, "invalid_entry": 3},
    ),
    IngestKind(
        "link-of-70000-characters", "feed", "/feed.xml", feed("/" + "a" * 70_000), {"invalid_entry": 1}
    ),  # longer than news.raw takes a URL
    IngestKind(
        "sitemap-index-lists-itself",
        "sitemap",
        "/listing",
        lambda s: {
            "/robots.txt": ROBOTS_OK,
            "/a": h.send(PAGE),
            "/listing": h.send(h.sitemap_index([s.url("/listing"), s.url("/child.xml")]), "application/xml"),
            "/child.xml": h.send(
                h.sitemap_index([s.url("/listing"), s.url("/child.xml"), s.url("/leaf.xml")]), "application/xml"
            ),
            "/leaf.xml": h.send(h.sitemap_with("", "2026-11-01", [s.url("/a")]), "application/xml"),
        },
        {"published": 1},
        requests={"/listing": 1, "/child.xml": 1, "/leaf.xml": 1},
        large=True,
    ),
    IngestKind(  # every link a 404: a dead letter each, for the 1,000 a run takes
        "sitemap-50000-urls",
        "sitemap",
        "/listing",
        listing(lambda s: h.sitemap_with("", "2026-11-01", [s.url(f"/gone/{n}") for n in range(50_000)])),
        {"http_status": PER_LISTING, "too_many_links": 50_000 - PER_LISTING},
        large=True,
    ),
    IngestKind(
        "feed-100000-items",
        "feed",
        "/listing",
        listing(lambda s: h.rss_of_links([s.url(f"/gone/{n}") for n in range(100_000)]), "application/rss+xml"),
        {"http_status": PER_LISTING, "too_many_links": 100_000 - PER_LISTING},
        large=True,
    ),
    IngestKind(  # 5 MB of wildcard rules, read once; /late/ is disallowed after the first 500 KiB: ignored
        "robots-5mb-of-rules",
        "feed",
        "/feed.xml",
        feed(
            "/a",
            "/private/b",
            "/late/c",
            *(f"/gone/{n}" for n in range(500)),
            robots=h.send(h.robots_with_rules(5 * MIB, "Disallow: /private/", "Disallow: /late/"), "text/plain"),
            a=h.send(PAGE),
            late__c=h.send(h.article("Late").encode()),
        ),
        {"published": 2, "robots_disallowed": 1, "http_status": 500},
        requests={"/robots.txt": 1},
        large=True,
    ),
]


@pytest.fixture(scope="module")
def ingest_settings(local_services: Settings, tmp_path_factory) -> Iterator[Settings]:
    prefix = f"faults-{uuid.uuid4().hex[:8]}"
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {
            "NEWSFLOW_STATE_DIR": str(tmp_path_factory.mktemp("state")),
            "NEWSFLOW_TOPIC_RAW": f"{prefix}.raw",
            "NEWSFLOW_TOPIC_ARTICLES": f"{prefix}.articles",
            "NEWSFLOW_TOPIC_DLQ": f"{prefix}.dlq",
            "NEWSFLOW_FETCH_TIMEOUT": "3",
            "NEWSFLOW_FETCH_RETRIES": "1",
            "NEWSFLOW_FETCH_RETRY_BACKOFF": "0.01",
        }.items():
            patch.setenv(name, value)
        settings = load_settings()
    with own_topics(settings):
        yield settings


def _count(summary) -> dict[str, int]:
    return {name: count for name, count in {**summary.skipped, "published": summary.published}.items() if count}


@pytest.mark.parametrize("case", INGEST, ids=[case.name for case in INGEST])
def test_ingest_kind(case: IngestKind, ingest_settings: Settings, tmp_path: Path):
    settings = ingest_settings
    with h.HostileServer() as server:
        server.routes.update(case.routes(server))
        source = Source(
            id=case.name,
            name=case.name,
            kind=case.kind,
            urls=[server.url(case.listing)],
            requests_per_second=1000,
            allow_networks=list(case.allow),
        )
        store = ingest_state_of_test(settings)
        publisher = Publisher(settings)
        started, before = time.monotonic(), _peak_mib()
        try:
            summary = asyncio.run(asyncio.wait_for(ingest_source(settings, source, store, publisher), 120))
        finally:
            publisher.close()
            store.close()
    elapsed = time.monotonic() - started
    counted = _count(summary)
    OUTCOMES[f"ingest/{case.name}"] = (
        ", ".join(f"{name} {count}" for name, count in sorted(counted.items()))
        + f"  ({elapsed:.1f} s, peak RSS {_peak_mib():.0f} MiB)"
    )
    if case.large:
        WALL_TIMES[f"ingest/{case.name}"] = elapsed
    assert counted == {name: count for name, count in case.expect.items() if count}
    assert {path: server.requests[path] for path in case.requests} == case.requests
    assert elapsed < 60
    assert _peak_mib() - before < 512, "memory is not bounded"

    raw = [RawArticle.model_validate_json(r.value) for r in read_topic(settings, settings.topic_raw)]
    raw = [r for r in raw if r.source_id == case.name]
    letters = [DeadLetter.model_validate_json(r.value) for r in read_topic(settings, settings.topic_dlq)]
    letters = [letter for letter in letters if letter.source_id == case.name]
    assert len(raw) == counted.get("published", 0)
    expected_letters = Counter(
        case.letters
        if case.letters is not None
        else {reason: count for reason, count in case.expect.items() if reason in STAGE_REASONS["ingest"]}
    )
    assert Counter(letter.reason for letter in letters) == expected_letters
    assert all(letter.stage == "ingest" for letter in letters)
    if case.never_in_records:
        assert all(case.never_in_records not in r.model_dump_json().encode() for r in raw)
        assert all(case.never_in_records not in letter.model_dump_json().encode() for letter in letters)


COMPRESSION_BOMBS = [case for case in INGEST if case.name.endswith("-bomb")]
MAX_BOMB_PEAK_MIB = 300  # the goal of issue 14; a bomb inflated whole took ingest to 1.1 GB


@pytest.mark.parametrize("case", COMPRESSION_BOMBS, ids=[case.name for case in COMPRESSION_BOMBS])
def test_a_compression_bomb_leaves_an_ingest_process_small(case: IngestKind, ingest_settings: Settings, tmp_path: Path):
    """`newsflow ingest --once` of the kind alone in its process. Its peak RSS is read from /proc
    (VmHWM) until it exits: its rusage would not do, as a child starts from its parent's peak."""
    settings = ingest_settings
    with h.HostileServer() as server:
        server.routes.update(case.routes(server))
        source = {"id": case.name, "name": case.name, "kind": case.kind, "urls": [server.url(case.listing)]}
        sources = tmp_path / "sources.yaml"  # written as JSON, which is YAML
        sources.write_text(json.dumps({"sources": [{**source, "requests_per_second": 1000, "allow_networks": list(case.allow)}]}))
        env = {
            **os.environ,
            "NEWSFLOW_SOURCES_FILE": str(sources),
            "NEWSFLOW_STATE_DIR": str(tmp_path),
            "NEWSFLOW_TOPIC_RAW": settings.topic_raw,
            "NEWSFLOW_TOPIC_ARTICLES": settings.topic_articles,
            "NEWSFLOW_TOPIC_DLQ": settings.topic_dlq,
        }
        log = tmp_path / "ingest.log"
        with log.open("wb") as output:
            ingest = subprocess.Popen(
                [sys.executable, "-m", "newsflow", "ingest", "--once", "--source", case.name],
                env=env,
                stdout=output,
                stderr=output,
            )
            peak, deadline = 0.0, time.monotonic() + 120
            while ingest.poll() is None and time.monotonic() < deadline:
                with contextlib.suppress(OSError):  # exited between poll and read
                    peak = max(peak, _vm_hwm_mib(ingest.pid))
                time.sleep(0.02)
            ingest.kill()
    PEAKS[f"`newsflow ingest` of {case.name} (VmHWM)"] = peak
    assert ingest.wait() == 0, log.read_text(errors="replace")[-3000:]
    store = ingest_state_of_test(ingest_settings)
    [(_, _, summary)] = store.last_runs()
    store.close()
    assert _count(IngestSummary.model_validate_json(summary)) == {name: count for name, count in case.expect.items() if count}
    assert 0 < peak < MAX_BOMB_PEAK_MIB


def test_wrong_declared_charset_is_decoded_as_what_it_is(ingest_settings, tmp_path):
    with h.HostileServer() as server:
        server.routes.update(feed("/x", x=h.send(h.wrong_charset(), "text/html; charset=windows-1252"))(server))
        source = Source(
            id="charset-check",
            name="c",
            kind="feed",
            urls=[server.url("/feed.xml")],
            requests_per_second=1000,
            allow_networks=["127.0.0.0/8"],
        )
        store, publisher = ingest_state_of_test(ingest_settings), Publisher(ingest_settings)
        try:
            asyncio.run(asyncio.wait_for(ingest_source(ingest_settings, source, store, publisher), 60))
        finally:
            publisher.close()
            store.close()
    (raw,) = [
        r
        for r in (RawArticle.model_validate_json(r.value) for r in read_topic(ingest_settings, ingest_settings.topic_raw))
        if r.source_id == "charset-check"
    ]
    assert "Токаев подписал закон" in raw.html and raw.encoding == "utf-8"


def test_links_over_the_cap_are_fetched_by_the_next_runs_newest_first(ingest_settings: Settings, tmp_path: Path):
    """25 dated stories in a sitemap that has an ETag, 10 a run: the newest 10, the next 10, the
    last 5. While links are left over the sitemap is read in full; once none are, it answers 304."""
    settings = ingest_settings.model_copy(update={"ingest_max_links_per_listing": 10})
    with h.HostileServer() as server:
        urls = "".join(
            f"<url><loc>{server.url(f'/story/{n}')}</loc><lastmod>2025-11-{n + 1:02d}</lastmod></url>" for n in range(25)
        )
        sitemap = f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'.encode()

        def conditional(handler) -> None:
            unchanged = handler.headers.get("If-None-Match") == '"v1"'
            (h.status(304) if unchanged else h.send(sitemap, "application/xml", ETag='"v1"'))(handler)

        server.routes.update(
            {
                "/robots.txt": ROBOTS_OK,
                "/sitemap.xml": conditional,
                **{f"/story/{n}": h.send(h.article(f"Story {n}").encode()) for n in range(25)},
            }
        )
        source = Source(
            id="over-the-cap",
            name="c",
            kind="sitemap",
            urls=[server.url("/sitemap.xml")],
            requests_per_second=1000,
            allow_networks=["127.0.0.0/8"],
        )

        def run() -> tuple[dict[str, int], set[int]]:
            store, publisher = ingest_state_of_test(settings), Publisher(settings)
            try:
                summary = asyncio.run(asyncio.wait_for(ingest_source(settings, source, store, publisher), 60))
            finally:
                publisher.close()
                store.close()
            raw = [RawArticle.model_validate_json(r.value) for r in read_topic(settings, settings.topic_raw)]
            stories = {int(r.url.rsplit("/", 1)[1]) for r in raw if r.source_id == source.id}
            return {**_count(summary), "not_modified": summary.not_modified}, stories

        assert run() == ({"published": 10, "too_many_links": 15, "not_modified": 0}, set(range(15, 25)))
        assert run() == ({"published": 10, "too_many_links": 5, "not_modified": 10}, set(range(5, 25)))
        assert run() == ({"published": 5, "not_modified": 20}, set(range(25)))
        assert run() == ({"not_modified": 0}, set(range(25)))  # 304: nothing left over, the validators were kept
        assert server.requests["/sitemap.xml"] == 4


def test_ingest_once_runs_every_source_past_the_malformed_ones(ingest_settings: Settings, tmp_path: Path):
    """Before, the first malformed JSON Feed ended `newsflow ingest --once` with a traceback and
    the sources after it never ran."""
    settings = ingest_settings
    with h.HostileServer() as server:
        deep = h.json_feed([]).replace(b"[]", b"[" * 100_000 + b"]" * 100_000)
        server.routes.update(
            {
                "/robots.txt": ROBOTS_OK,
                "/a": h.send(PAGE),
                "/b": h.send(h.article("Another").encode()),
                "/deep.json": h.send(deep, "application/feed+json"),
                "/types.json": h.send(h.json_feed([{"url": server.url("/a"), "title": 5}, {"url": ["x"]}]), "application/json"),
                "/feed.xml": h.send(h.rss_with("", "Good", [server.url("/b")]), "application/rss+xml"),
            }
        )
        local = {"kind": "feed", "allow_networks": ["127.0.0.0/8"], "requests_per_second": 1000}
        sources = [
            {"id": f"cli-{name}", "name": name, "urls": [server.url(path)], **local}
            for name, path in (("deep", "/deep.json"), ("types", "/types.json"), ("rss", "/feed.xml"))
        ]
        (tmp_path / "sources.yaml").write_text(yaml.safe_dump({"sources": sources}))
        env = {
            **os.environ,
            "NEWSFLOW_SOURCES_FILE": str(tmp_path / "sources.yaml"),
            "NEWSFLOW_STATE_DIR": str(tmp_path / "state"),
            "NEWSFLOW_TOPIC_RAW": settings.topic_raw,
            "NEWSFLOW_TOPIC_ARTICLES": settings.topic_articles,
            "NEWSFLOW_TOPIC_DLQ": settings.topic_dlq,
        }
        done = run_newsflow("ingest", "--once", env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    counts = "new {0}, changed 0, not modified 0, failed before 0, published {0}"
    assert done.stdout.splitlines() == [
        f"cli-deep: discovered 0, {counts.format(0)}; skipped: invalid_listing 1",
        f"cli-types: discovered 1, {counts.format(1)}; skipped: invalid_entry 1",
        f"cli-rss: discovered 1, {counts.format(1)}; skipped: none",
    ]


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/",
        "http://[::ffff:10.0.0.1]/",
        "http://localhost/",
        "http://127.1/",
        "http://0x7f000001/",
        "http://[fe80::1%25eth0]/",
        "gopher://127.0.0.1:11211/",
        "http://metadata.google.internal./",
    ],
)
def test_the_fetcher_refuses_internal_addresses_without_connecting(url):
    with pytest.raises(Rejected) as refused:
        fetch_once(url)
    assert refused.value.reason in ("ssrf_refused", "unreachable")  # unreachable: a name that does not resolve here
    OUTCOMES[f"fetcher/{url}"] = refused.value.reason


def fetch_once(url: str, allow: tuple[str, ...] = ()) -> Page | NotModified:
    """`url` through a fetcher of its own, robots.txt aside, in one attempt of at most 5 s."""

    async def fetch() -> Page | NotModified:
        settings = Settings(fetch_retries=0, fetch_timeout=5)
        networks = [ip_network(network) for network in allow]
        async with Fetcher(settings, requests_per_second=1000, allow_networks=networks, honour_robots=False) as fetcher:
            return await fetcher.fetch(url)

    return asyncio.run(asyncio.wait_for(fetch(), 30))


def resolve_as(monkeypatch: pytest.MonkeyPatch, name: str, *answers: str) -> list[str]:
    """Make the system resolver answer `name` with `answers` in turn, the last one from then on (a
    rebinding name when they differ); returns the list of the answers given so far."""
    resolve = socket.getaddrinfo
    given: list[str] = []

    def getaddrinfo(host, port, *args, **kwargs):
        if host not in (name, name.encode()):
            return resolve(host, port, *args, **kwargs)
        given.append(answers[min(len(given), len(answers) - 1)])
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (given[-1], int(port or 0)))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return given


@pytest.mark.parametrize("hop", ["first", "redirected"])
def test_a_rebinding_name_reaches_nothing_but_the_address_checked(hop, monkeypatch):
    """The name answers 127.0.0.1 (allowed) once, then 127.0.0.3, where an internal service listens."""
    with h.Listener("127.0.0.3") as internal, h.HostileServer() as server:
        target = f"http://rebind.newsflow.test:{internal.port}/admin"
        server.routes["/r"] = h.redirect(target)
        given = resolve_as(monkeypatch, "rebind.newsflow.test", "127.0.0.1", "127.0.0.3")
        with pytest.raises(Rejected) as refused:
            fetch_once(target if hop == "first" else server.url("/r"), allow=("127.0.0.1/32",))
    OUTCOMES[f"fetcher/rebinding name, {hop} hop"] = f"{refused.value.reason} (resolved {len(given)}×)"
    assert (internal.connections, bytes(internal.received)) == (0, b"")
    assert given == ["127.0.0.1"]
    assert refused.value.reason == "unreachable"  # nothing listens on 127.0.0.1 at the internal port


def test_a_pinned_connection_keeps_the_name_in_host_sni_and_certificate(monkeypatch, tmp_path):
    name = "pinned.newsflow.test"
    certificate = h.self_signed(name, tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate))  # the one certificate httpx trusts here
    resolve_as(monkeypatch, name, "127.0.0.1")
    resolve_as(monkeypatch, "impostor.newsflow.test", "127.0.0.1")
    server = h.HostileServer()
    sni = server.serve_tls(certificate)
    server.routes["/a"] = h.send(PAGE)
    port = int(server.base.rsplit(":", 1)[1])
    with server:
        page = fetch_once(f"https://{name}:{port}/a", allow=("127.0.0.1/32",))
        with pytest.raises(Rejected) as impostor:  # the same server, under a name its certificate does not have
            fetch_once(f"https://impostor.newsflow.test:{port}/a", allow=("127.0.0.1/32",))
    assert isinstance(page, Page) and page.body == PAGE
    assert sni == [name, "impostor.newsflow.test"]
    assert [(path, headers["Host"]) for path, headers in server.received] == [("/a", f"{name}:{port}")]
    assert impostor.value.reason == "unreachable" and "CERTIFICATE_VERIFY_FAILED" in str(impostor.value)
    OUTCOMES["fetcher/tls under another name"] = impostor.value.reason


def test_the_fetcher_asks_only_for_the_encodings_it_decodes():
    with h.HostileServer() as server:
        server.routes["/a"] = h.send(PAGE)
        fetch_once(server.url("/a"), allow=("127.0.0.1/32",))
    [(_, headers)] = server.received
    assert headers["Accept-Encoding"] == "gzip, deflate"


NON_ASCII_ETAG, OVERLONG_DATE = '"café"', "Mon, 03 Nov 2025 09:00:00 GMT; " + "x" * 5000


def test_validators_that_cannot_be_sent_back_are_neither_stored_nor_sent(ingest_settings, tmp_path):
    """The feed and its page answer a non-ASCII ETag and an overlong Last-Modified, and the state file
    already holds an unsendable ETag for the feed: two runs go through, sending no validator at all."""
    with h.HostileServer() as server:
        server.routes.update(feed("/a", a=h.send(PAGE, ETag=NON_ASCII_ETAG, Last_Modified=OVERLONG_DATE))(server))
        listing = h.rss_with("", "Feed", [server.url("/a")])
        server.routes["/feed.xml"] = h.send(listing, "application/rss+xml", ETag=NON_ASCII_ETAG, Last_Modified=OVERLONG_DATE)
        source = Source(
            id="unsendable-validators",
            name="v",
            kind="feed",
            urls=[server.url("/feed.xml")],
            requests_per_second=1000,
            allow_networks=["127.0.0.0/8"],
        )
        store, publisher = ingest_state_of_test(ingest_settings), Publisher(ingest_settings)
        store.record_listing(server.url("/feed.xml"), Validators('"ünsendable"', None), datetime(2025, 11, 3, tzinfo=UTC))
        try:
            runs = [asyncio.run(asyncio.wait_for(ingest_source(ingest_settings, source, store, publisher), 60)) for _ in range(2)]
            (article,) = store.articles([canonical_url(server.url("/a"))]).values()
            stored = [store.listing_validators(server.url("/feed.xml")), article.validators]
        finally:
            publisher.close()
            store.close()
    assert [(run.published, run.not_modified, run.skipped) for run in runs] == [(1, 0, {}), (0, 1, {})]
    conditional = [
        (path, name) for path, headers in server.received for name in ("If-None-Match", "If-Modified-Since") if name in headers
    ]
    assert conditional == []
    assert stored == [Validators(), Validators()]
    OUTCOMES["ingest/unsendable validators, two runs"] = "published 1, then not modified 1"


# Transform ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PageKind:
    name: str
    html: Callable[[], str]
    expect: str  # a transform reason code, or "article"; "a|b" when either may happen (a deadline near the work)
    check: Callable[[NormalizedArticle], bool] = lambda article: True
    discovery: dict = field(default_factory=dict)


FUTURE = "2199-01-01T00:00:00Z"
PAGES = [
    PageKind("huge-attribute", h.huge_attribute, "empty_body"),
    PageKind("deeply-nested-divs", h.deep_nesting, "empty_body"),
    PageKind("page-with-100k-links", h.links_page, "article|extraction_timeout", lambda a: "Headline number" not in a.body),
    PageKind("json-ld-deep", h.json_ld_deep, "article", lambda a: a.title == "Deep JSON-LD"),
    PageKind("json-ld-huge", lambda: h.json_ld_huge(40_000), "article", lambda a: a.word_count > 100),
    PageKind("json-ld-wide-graph", lambda: h.json_ld_huge(5_000), "article", lambda a: len(a.authors) <= 1000),
    PageKind("nul-bytes", lambda: h.nul_bytes().decode(), "article", lambda a: a.word_count > 1000),
    PageKind("binary-as-text", lambda: h.png().decode("latin-1"), "unparsable_html"),
    PageKind("control-characters", lambda: h.article("Control").replace(". ", ".\x01\x02\x0b\x1b "), "article"),
    PageKind("lone-surrogates", lambda: h.article("Surrogates").replace(". ", ".\ud800 "), "article"),
    PageKind("empty-page", lambda: "", "unparsable_html"),
    PageKind(
        "future-date-json-ld",
        lambda: h.dated(FUTURE, "json-ld"),
        "article",
        lambda a: a.published_at is None and a.modified_at is None,
    ),
    PageKind(
        "future-date-meta", lambda: h.dated(FUTURE, "meta"), "article", lambda a: a.published_at is None and a.modified_at is None
    ),
    PageKind(
        "future-date-feed",
        lambda: h.article("Future feed"),
        "article",
        lambda a: a.published_at is None,
        {"published_at": datetime(2199, 1, 1, tzinfo=UTC), "modified_at": datetime(2199, 1, 1, tzinfo=UTC)},
    ),
    PageKind(
        "future-json-ld-past-meta",
        lambda: h.dated(FUTURE, "json-ld").replace(
            "</head>", '<meta property="article:published_time" content="2025-11-03T09:00:00+05:00"></head>'
        ),
        "article",
        lambda a: a.published_at is not None and a.published_at.source == "meta" and a.published_at.value.year == 2025,
    ),
    PageKind(
        "malformed-dates",
        lambda: h.dated("2026-13-45T99:99:99", "json-ld").replace(
            "</head>",
            '<meta property="article:published_time" content="yesterday"><meta name="date" content="0000-00-00"></head>',
        ),
        "article",
        lambda a: a.published_at is None or a.published_at.value <= datetime.now(UTC),
    ),
    PageKind(
        "names-of-40000-characters",  # 160,000 bytes: a keyword term Elasticsearch would refuse, and the article with it
        lambda: h.article("Names", head=f'<meta property="og:site_name" content="{"Ж" * 40_000}">'),
        "article",
        lambda a: a.authors == ["Aigerim Sadykova"] and a.site_name == "hostile.example",
        {"authors": ["Ж" * 40_000, "Aigerim Sadykova"]},
    ),
    PageKind(
        "json-ld-date-wrong-type",
        lambda: h.article(
            "Typed", head=h.json_ld({"@type": "NewsArticle", "datePublished": {"@value": 5}, "author": 7, "headline": ["a"]})
        ),
        "article",
    ),
]


def raw_article(n: int, html: str, **discovery) -> RawArticle:
    now = datetime.now(UTC)
    url = f"https://hostile.example/news/kind-{n}"
    return RawArticle(
        article_id=f"{n:064x}",
        source_id="hostile",
        url=url,
        canonical_url=url,
        fetched_at=now,
        first_seen_at=now,
        status=200,
        headers={"content-type": "text/html"},
        content_type="text/html",
        encoding="utf-8",
        html=html,
        discovery=Discovery(kind="feed", listing_url="https://hostile.example/rss", language="en", **discovery),
    )


@pytest.mark.parametrize("case", PAGES, ids=[case.name for case in PAGES])
def test_transform_kind(case: PageKind):
    settings = Settings()
    raw = raw_article(0, case.html(), **case.discovery)
    started = time.monotonic()
    try:
        with _deadline(settings.transform_timeout, raw.url):  # the worker's own deadline and crash guard
            article = normalize(raw, datetime.now(UTC), settings.transform_min_words)
        outcome = "article"
    except Rejected as error:
        article, outcome = None, error.reason
    elapsed = time.monotonic() - started
    OUTCOMES[f"transform/{case.name}"] = f"{outcome}  ({elapsed:.1f} s, peak RSS {_peak_mib():.0f} MiB)"
    assert outcome in case.expect.split("|")
    assert elapsed < settings.transform_timeout + 5
    if article is not None:
        assert case.check(article)
        assert article.published_at is None or article.published_at.value <= datetime.now(UTC)


# Transform worker on Kafka: the whole page corpus, plus unreadable and oversized records ------------


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
            except (OSError, ValueError, IndexError):
                continue
    return found


def _vm_hwm_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


OVERSIZED = 24 * MIB  # over NEWSFLOW_KAFKA_MAX_MESSAGE_BYTES (16 MiB): the raw topic is made to take it


def test_the_worker_turns_every_hostile_record_into_one_outcome(worker_topics: Settings):
    settings = worker_topics
    expected: dict[bytes, str | None] = {}  # None: not_json or schema_violation
    names: dict[bytes, str] = {}
    records: list[tuple[bytes, bytes]] = []
    for n, case in enumerate(PAGES, start=1):
        raw = raw_article(n, case.html(), **case.discovery)
        records.append((raw.key(), raw.model_dump_json().encode()))
        expected[raw.key()], names[raw.key()] = case.expect, case.name
    # 6,000 paragraphs (11 MB): the article repeats them (body, text_folded) and outgrows a 16 MiB
    # record, which only publishing finds out.
    paragraphs = "".join(f"<p>Paragraph {i}. {h.WORDS * 10}</p>" for i in range(6000))
    big = raw_article(len(PAGES) + 1, h.article("Many paragraphs").replace("</article>", paragraphs + "</article>"))
    records.append((big.key(), big.model_dump_json().encode()))
    # Its extraction takes seconds: on loaded cores it may meet the deadline before publishing does the limit.
    expected[big.key()], names[big.key()] = "too_large|extraction_timeout", "article-over-the-record-limit"
    unreadable = {
        b"not-json": (b"<html>not json {", "not_json"),
        b"not-utf8": (b'\xff\xfe{"article_id": 1}', "not_json"),
        b"json-array": (b"[1, 2, 3]", "schema_violation"),
        b"wrong-schema": (json.dumps({"schema_version": 2, "article_id": "x"}).encode(), "schema_violation"),
        b"wrong-types": (
            raw_article(0, "<p>x</p>").model_dump_json().replace('"status":200', '"status":"ok"').encode(),
            "schema_violation",
        ),
        b"deep-json": (b"[" * 100_000 + b"]" * 100_000, None),  # not_json or schema_violation: never a crash
        b"oversized": (b'{"schema_version": 1, "padding": "' + b"a" * OVERSIZED + b'"}', "schema_violation"),
    }
    for key, (value, reason) in unreadable.items():
        records.append((key, value))
        expected[key] = reason
    admin = kafka_admin(settings)
    from kafka.admin import ConfigResource, ConfigResourceType

    admin.alter_configs(
        [ConfigResource(ConfigResourceType.TOPIC, settings.topic_raw, configs={"max.message.bytes": str(OVERSIZED * 2)})]
    )
    admin.close()
    producer = kafka_producer(settings, max_request_size=OVERSIZED * 2)
    for key, value in records:
        producer.send(settings.topic_raw, key=key, value=value).get(timeout=60)
    producer.close()

    worker = subprocess.Popen(
        [sys.executable, "-m", "newsflow", "worker", "transform", "--processes", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    peak = 0.0
    try:

        def done() -> bool:
            nonlocal peak
            for pid in [worker.pid, *_children(worker.pid)]:
                with contextlib.suppress(OSError):
                    peak = max(peak, _vm_hwm_mib(pid))
            return len(read_topic(settings, settings.topic_articles)) + len(read_topic(settings, settings.topic_dlq)) >= len(
                records
            )

        wait_for(done, timeout=240)
        time.sleep(2)  # anything more than one outcome a record would show now
        done()
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        output = worker.communicate(timeout=60)[0].decode(errors="replace")
    PEAKS["transform worker processes (VmHWM, largest)"] = peak
    assert worker.returncode == 0, output[-3000:]
    assert "restarting it" not in output, output[-3000:]  # no worker process died on a record

    outcomes: dict[bytes, list[str]] = {}
    for record in read_topic(settings, settings.topic_articles):
        NormalizedArticle.model_validate_json(record.value)
        outcomes.setdefault(record.key, []).append("article")
    raw_records = {(r.partition, r.offset): r for r in read_topic(settings, settings.topic_raw)}
    for record in read_topic(settings, settings.topic_dlq):
        letter = DeadLetter.model_validate_json(record.value)
        assert letter.stage == "transform" and letter.origin.topic == settings.topic_raw
        failed = raw_records[(letter.origin.partition, letter.origin.offset)]
        outcomes.setdefault(failed.key, []).append(letter.reason)
        # the letter keeps the record while it fits a quarter of a record, and not otherwise
        assert (letter.original is None) == (len(failed.value) > settings.kafka_max_message_bytes // 4)
    for key, reason in expected.items():
        got = outcomes.get(key, [])
        OUTCOMES[f"worker/{names.get(key, key.decode())}"] = ", ".join(got) or "nothing"
        assert len(got) == 1, (key, got)
        if reason is not None:
            assert got[0] in reason.split("|"), (key, got)
        else:
            assert got[0] in ("not_json", "schema_violation")


# news.articles: what the indexer reads --------------------------------------------------------

ARTICLE_RECORDS = [
    ("articles-not-json", b"{not json", "not_json"),
    ("articles-not-utf8", b"\xff\xfe\xfd", "not_json"),
    ("articles-deep-json", b"[" * 100_000 + b"]" * 100_000, "not_json|schema_violation"),
    ("articles-wrong-schema", b'{"schema_version": 1, "article_id": "x"}', "schema_violation"),
    (
        "articles-raw-record",
        raw_article(0, "<p>a raw page on the wrong topic</p>").model_dump_json().encode(),
        "schema_violation",
    ),
    ("articles-oversized", b'{"padding": "' + b"a" * (8 * MIB) + b'"}', "schema_violation"),
    (
        "articles-javascript-url",  # a clickable hit that would run in the search page's origin
        article(1, SEED).model_copy(update={"url": "javascript:alert(document.domain)"}).model_dump_json().encode(),
        "schema_violation",
    ),
]


class _Letters:
    """A stand-in for the publisher: the indexer's dead letters, kept."""

    def __init__(self) -> None:
        self.sent: list[DeadLetter] = []

    def send(self, topic: str, key: bytes | None, record: DeadLetter, on_acknowledged=lambda: None) -> None:
        self.sent.append(record)


def test_the_indexer_dead_letters_unreadable_articles_without_touching_elasticsearch():
    from kafka.consumer.fetcher import ConsumerRecord

    from search.indexer import Indexer

    settings = Settings()
    letters = _Letters()
    records = [
        ConsumerRecord(
            topic="news.articles",
            partition=0,
            leader_epoch=None,
            offset=n,
            timestamp=0,
            timestamp_type=0,
            key=name.encode(),
            value=value,
            headers=[],
            checksum=None,
            serialized_key_size=0,
            serialized_value_size=len(value),
            serialized_header_size=0,
        )
        for n, (name, value, _) in enumerate(ARTICLE_RECORDS)
    ]
    # Stand-ins, deliberately not of the declared types: es=None fails on any use, _Letters keeps the letters.
    counts = Indexer(settings, es=None, publisher=letters).index_batch(records)  # type: ignore[arg-type]
    assert counts == {"indexed": 0, "dead_lettered": len(ARTICLE_RECORDS)}
    for (name, value, expected), letter in zip(ARTICLE_RECORDS, letters.sent, strict=True):
        OUTCOMES[f"index/{name}"] = letter.reason
        assert letter.stage == "index" and letter.reason in expected.split("|")
        assert (letter.original is None) == (len(value) > settings.kafka_max_message_bytes // 4)
