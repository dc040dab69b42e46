"""Polite, bounded HTTP fetching with httpx.

`Fetcher.fetch(url)` goes through these steps, for the URL and again for every redirect hop:

1. SSRF guard: every address the host resolves to must be public, or in the source's allowed networks.
2. robots.txt of the origin must allow the URL for our user agent (fetched and parsed once per
   origin, its first 500 KiB).
3. Wait for a slot: all hosts together, this host's concurrency, this host's rate.
4. GET, conditional when validators (ETag, Last-Modified) are known; timeouts, 429 and 5xx are
   retried with exponential backoff.
5. Check the address actually connected to (a second DNS answer may differ), the status, the
   content type, and stream the decompressed body under the size cap.
"""

import asyncio
import ipaddress
import itertools
import math
import re
import socket
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from typing import Any, Literal
from urllib.parse import urljoin, urlsplit
from urllib.robotparser import RobotFileParser

import httpx
from aiolimiter import AsyncLimiter

from newsflow.errors import Reason, Rejected
from newsflow.settings import Settings

Network = IPv4Network | IPv6Network
ContentKind = Literal["page", "listing", "robots"]

ACCEPTED_TYPES: dict[ContentKind, tuple[str, ...]] = {
    "page": ("text/html", "application/xhtml+xml"),
    # Feeds and sitemaps are served under many names; what matters is that it is text.
    "listing": ("xml", "rss", "atom", "json", "text/", "application/gzip", "application/x-gzip"),
    "robots": ("text/plain",),
}
REDIRECTS = {301, 302, 303, 307, 308}
KEPT_HEADERS = ("content-type", "content-language", "etag", "last-modified", "date")
POOL_SIZE = 8  # connections per httpx client
MAX_RETRY_AFTER = 30.0  # seconds: a longer wait belongs to the next scheduled run
ROBOTS_MAX_BYTES = 500 * 1024  # RFC 9309 2.5: crawlers parse at least 500 KiB of robots.txt, and may ignore the rest


class HttpStatusError(Rejected):
    """A 4xx, or a 5xx or 429 that retries did not cure."""

    def __init__(self, message: str, status: int, retry_after: float = 0.0) -> None:
        super().__init__(Reason.HTTP_STATUS, message)
        self.status = status
        self.retry_after = retry_after

    @property
    def retriable(self) -> bool:
        return self.status >= 500 or self.status == 429

    @property
    def permanent(self) -> bool:
        return not self.retriable


class Unreachable(Rejected):
    """Timeouts, refused connections, broken responses, after retries."""

    def __init__(self, message: str) -> None:
        super().__init__(Reason.UNREACHABLE, message)

    @property
    def permanent(self) -> bool:
        return False


@dataclass(frozen=True)
class Validators:
    """What a conditional GET sends back to the server."""

    etag: str | None = None
    last_modified: str | None = None

    def headers(self) -> dict[str, str]:
        sent = {}
        if self.etag:
            sent["If-None-Match"] = self.etag
        if self.last_modified:
            sent["If-Modified-Since"] = self.last_modified
        return sent


@dataclass(frozen=True)
class Page:
    url: str
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    @property
    def validators(self) -> Validators:
        return Validators(self.headers.get("etag"), self.headers.get("last-modified"))


@dataclass(frozen=True)
class NotModified:
    url: str


@dataclass
class _Host:
    """What the fetcher keeps per origin (scheme, host and port)."""

    slots: asyncio.Semaphore
    rate: AsyncLimiter
    clients: Iterator[httpx.AsyncClient]
    addresses_checked: bool = False
    robots: "Robots | None" = None
    robots_lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class Fetcher:
    """One per ingest run; `async with Fetcher(...) as fetcher: await fetcher.fetch(url)`."""

    def __init__(
        self,
        settings: Settings,
        *,
        requests_per_second: float,
        allow_networks: Sequence[Network] = (),
        honour_robots: bool = True,
    ) -> None:
        self.settings = settings
        self.requests_per_second = requests_per_second
        self.allow_networks = tuple(allow_networks)
        self.honour_robots = honour_robots
        self._all_hosts = asyncio.Semaphore(settings.fetch_concurrency)
        self._hosts: dict[str, _Host] = {}
        self._clients: list[httpx.AsyncClient] = []

    async def __aenter__(self) -> "Fetcher":
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        for client in self._clients:
            await client.aclose()

    async def fetch(self, url: str, kind: ContentKind = "page", validators: Validators | None = None) -> Page | NotModified:
        visited = []
        while True:
            visited.append(url)
            await self._check_address(url)
            if self.honour_robots and kind != "robots":
                await self._check_robots(url)
            response = await self._get_with_retries(url, kind, validators)
            if isinstance(response, str):  # a redirect's target
                if len(visited) > self.settings.fetch_max_redirects:
                    raise Rejected(
                        Reason.TOO_MANY_REDIRECTS, f"{visited[0]}: more than {self.settings.fetch_max_redirects} redirects"
                    )
                if response in visited:
                    raise Rejected(Reason.TOO_MANY_REDIRECTS, f"{visited[0]}: redirect loop through {response}")
                url = response
                continue
            return response

    async def _get_with_retries(self, url: str, kind: ContentKind, validators: Validators | None) -> Page | NotModified | str:
        retries_left = self.settings.fetch_retries
        delay = self.settings.fetch_retry_backoff
        while True:
            try:
                return await self._get(url, kind, validators)
            except HttpStatusError as exc:
                if not exc.retriable or retries_left == 0:
                    raise
                await asyncio.sleep(max(delay, exc.retry_after))
            except Unreachable:
                if retries_left == 0:
                    raise
                await asyncio.sleep(delay)
            retries_left -= 1
            delay *= 2

    async def _get(self, url: str, kind: ContentKind, validators: Validators | None) -> Page | NotModified | str:
        host = self._host(url)
        headers = validators.headers() if validators else {}
        async with self._all_hosts, host.slots:
            await host.rate.acquire()
            try:
                # httpx's timeouts bound each read, not the whole: a server dripping a byte a second
                # never trips them. fetch_timeout is also the budget of the whole exchange.
                async with (
                    asyncio.timeout(self.settings.fetch_timeout),
                    next(host.clients).stream("GET", url, headers=headers) as response,
                ):
                    self._check_peer(url, response)
                    if response.status_code in REDIRECTS and "location" in response.headers:
                        return urljoin(url, response.headers["location"])
                    if response.status_code == 304:
                        return NotModified(url)
                    _check_status(url, response)
                    _check_content_type(url, response, kind)
                    body = await (_read_robots(response) if kind == "robots" else self._read_capped(url, response))
                    kept = {name: response.headers[name] for name in KEPT_HEADERS if name in response.headers}
                    return Page(url=url, status=response.status_code, headers=kept, body=body)
            except httpx.TimeoutException as exc:
                raise Unreachable(f"{url}: timed out ({type(exc).__name__})") from None
            except TimeoutError:
                raise Unreachable(f"{url}: no complete response within {self.settings.fetch_timeout:g} s") from None
            except httpx.TransportError as exc:  # refused, reset, broken chunks, bad gzip, ...
                raise Unreachable(f"{url}: {type(exc).__name__}: {exc}") from None

    async def _read_capped(self, url: str, response: httpx.Response) -> bytes:
        cap = self.settings.fetch_max_bytes
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > cap:
            raise Rejected(Reason.TOO_LARGE, f"{url}: Content-Length {declared} exceeds {cap} bytes")
        chunks, size = [], 0
        async for chunk in response.aiter_bytes():  # decompressed: a gzip bomb counts at full size
            size += len(chunk)
            if size > cap:
                raise Rejected(Reason.TOO_LARGE, f"{url}: body exceeds {cap} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    def _host(self, url: str) -> _Host:
        origin = _origin(url)
        if origin not in self._hosts:
            concurrency = self.settings.fetch_per_host_concurrency
            # httpcore's pool does work quadratic in its size for every request: several small
            # pools serve a host that is allowed many connections.
            pools = [self._client(min(POOL_SIZE, concurrency)) for _ in range(math.ceil(concurrency / POOL_SIZE))]
            self._hosts[origin] = _Host(
                slots=asyncio.Semaphore(concurrency),
                rate=AsyncLimiter(1, 1 / self.requests_per_second),
                clients=itertools.cycle(pools),
            )
        return self._hosts[origin]

    def _client(self, connections: int) -> httpx.AsyncClient:
        client = httpx.AsyncClient(
            headers={"User-Agent": self.settings.user_agent},
            timeout=self.settings.fetch_timeout,
            follow_redirects=False,  # each hop goes through the SSRF guard and robots.txt
            limits=httpx.Limits(max_connections=connections),
        )
        self._clients.append(client)
        return client

    async def _check_address(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise Rejected(Reason.SSRF_REFUSED, f"{url}: only http and https URLs are fetched")
        host = self._host(url)
        if host.addresses_checked:
            return  # once per run and host; the address connected to is checked at every request
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
            answers = await asyncio.get_running_loop().getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, ValueError) as exc:
            raise Unreachable(f"{url}: cannot resolve {parts.hostname} ({exc})") from None
        for *_, sockaddr in answers:
            check_address(ipaddress.ip_address(sockaddr[0]), self.allow_networks, url)
        host.addresses_checked = True

    def _check_peer(self, url: str, response: httpx.Response) -> None:
        stream = response.extensions.get("network_stream")
        peer = stream.get_extra_info("server_addr") if stream is not None else None
        if peer:
            check_address(ipaddress.ip_address(peer[0]), self.allow_networks, url)

    async def _check_robots(self, url: str) -> None:
        host = self._host(url)
        async with host.robots_lock:
            if host.robots is None:
                host.robots = await self._load_robots(_origin(url) + "/robots.txt")
        if not host.robots.can_fetch(self.settings.user_agent, url):
            raise Rejected(Reason.ROBOTS_DISALLOWED, f"{url}: disallowed by robots.txt for {self.settings.user_agent!r}")

    async def _load_robots(self, robots_url: str) -> "Robots":
        # RFC 9309: a 4xx means no rules; an unreachable or failing robots.txt means stay away.
        robots = Robots(robots_url)
        try:
            page = await self.fetch(robots_url, kind="robots")
        except HttpStatusError as exc:
            robots.disallow_all = exc.retriable
            robots.allow_all = not exc.retriable
            return robots
        except Rejected:  # unreachable, looping, too large, not text, or a refused address
            robots.disallow_all = True
            return robots
        assert isinstance(page, Page)
        robots.parse(page.body.decode("utf-8", errors="replace").splitlines())
        # can_fetch walks every group for every URL: keep only the one that applies to us.
        robots.entries = [entry for entry in robots.entries if entry.applies_to(self.settings.user_agent)][:1]
        _honour_wildcards(robots)
        return robots


class Robots(RobotFileParser):
    """urllib's robots.txt parser, with the attributes it sets declared (typeshed leaves them out)."""

    entries: list[Any]
    default_entry: Any
    disallow_all: bool
    allow_all: bool


async def _read_robots(response: httpx.Response) -> bytes:
    """The first ROBOTS_MAX_BYTES of a robots.txt, without the line cut there; the rest is not read."""
    chunks, size = [], 0
    async for chunk in response.aiter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size >= ROBOTS_MAX_BYTES:
            prefix = b"".join(chunks)[:ROBOTS_MAX_BYTES]
            return prefix[: prefix.rfind(b"\n") + 1]
    return b"".join(chunks)


def _honour_wildcards(robots: Robots) -> None:
    """RFC 9309 patterns, which urllib's parser compares literally: `*` is any characters, a final
    `$` ends the path. (`Disallow: /*?print=` would otherwise allow every printable page.)"""
    entries = [*robots.entries, *([robots.default_entry] if robots.default_entry else [])]
    for line in (line for entry in entries for line in entry.rulelines):
        if "%2A" in line.path or line.path.endswith("%24"):  # urllib stores the paths percent-quoted
            anchored = line.path.endswith("%24")
            pattern = re.compile(
                ".*".join(map(re.escape, line.path.removesuffix("%24").split("%2A"))) + ("$" if anchored else "")
            )
            line.applies_to = lambda filename, pattern=pattern: pattern.match(filename) is not None


def check_address(address: IPv4Address | IPv6Address, allowed: Sequence[Network], url: str) -> None:
    """Refuse loopback, private, link-local (cloud metadata), reserved and multicast addresses."""
    if isinstance(address, IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    if any(address in network for network in allowed):
        return
    if not address.is_global or address.is_multicast:
        raise Rejected(Reason.SSRF_REFUSED, f"{url}: resolves to the non-public address {address}")


def _check_status(url: str, response: httpx.Response) -> None:
    if response.status_code >= 400:
        retry_after = min(_retry_after(response.headers.get("retry-after")), MAX_RETRY_AFTER)
        raise HttpStatusError(f"{url}: HTTP {response.status_code}", response.status_code, retry_after)


def _retry_after(value: str | None) -> float:
    """Seconds from a Retry-After header: a number of seconds, or an HTTP date."""
    if not value:
        return 0.0
    if value.strip().isdigit():
        return float(value)
    try:
        return max(0.0, (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError):
        return 0.0


def _check_content_type(url: str, response: httpx.Response, kind: ContentKind) -> None:
    content_type = response.headers.get("content-type", "").lower()
    if kind == "robots" or not content_type:
        return  # robots.txt is often mislabelled; an unlabelled body is judged when decoded
    if not any(accepted in content_type for accepted in ACCEPTED_TYPES[kind]):
        raise Rejected(Reason.WRONG_CONTENT_TYPE, f"{url}: content type {content_type!r} is not one of a {kind}")


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.lower()}"
