"""Polite, bounded HTTP fetching with httpx.

`Fetcher.fetch(url)` goes through these steps, for the URL and again for every redirect hop:

1. SSRF guard: the host, as httpx will send it, is resolved once per run, and every address it
   has must be public (an IPv6 address that carries an IPv4 one is judged by that), or in the
   source's allowed networks. Connections go to these checked addresses only (`_PinnedTransport`):
   httpx never resolves the name again, so a rebinding name cannot lead anywhere else.
2. robots.txt of the origin must allow the URL for our user agent (fetched and parsed once per
   origin, its first 500 KiB).
3. Wait for a slot: all hosts together, this host's concurrency, this host's rate.
4. GET, asking only for the encodings decoded in step 5, conditional when validators (ETag,
   Last-Modified) are known and can be sent back; timeouts, 429 and 5xx are retried with
   exponential backoff.
5. Check the status and the content type, then read the raw body under the size cap, inflating it
   here (gzip, deflate) at most up to what the cap has left: a compression bomb costs no more
   memory than the cap. Stacked or other encodings are refused.
"""

import asyncio
import contextlib
import ipaddress
import itertools
import math
import re
import socket
import zlib
from collections.abc import Iterator, Mapping, Sequence
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
IPAddress = IPv4Address | IPv6Address
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
# The content encodings decoded here, and zlib's wbits for each: a gzip header, or a zlib header
# (what HTTP calls "deflate"). Only these are asked for (Accept-Encoding); httpx would ask for
# more (br, zstd) when their packages are installed, and inflate them whole.
DECODED_ENCODINGS = {"gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}
ACCEPT_ENCODING = ", ".join(DECODED_ENCODINGS)
# A longer ETag or Last-Modified is no validator but a way to make every later request too large.
MAX_VALIDATOR_CHARS = 1024
IPV4_COMPATIBLE = IPv6Network("::/96")  # ::a.b.c.d (deprecated, RFC 4291)
NAT64 = IPv6Network("64:ff9b::/96")  # the well-known prefix; the last 32 bits are the IPv4 address (RFC 6052)
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
    """What a conditional GET sends back to the server.

    A value that cannot go back in a header as it came (not printable ASCII, or over
    MAX_VALIDATOR_CHARS) is dropped when the validators are made, from a response or from the state
    file alike: it is never stored, and one stored by an older version is never sent. Sending it
    would fail every later request to the page.
    """

    etag: str | None = None
    last_modified: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "etag", _sendable(self.etag))
        object.__setattr__(self, "last_modified", _sendable(self.last_modified))

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
        self._checked: dict[str, tuple[IPAddress, ...]] = {}  # host name (as sent) → its checked addresses

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
                    if response.status_code in REDIRECTS and "location" in response.headers:
                        return urljoin(url, response.headers["location"])
                    if response.status_code == 304:
                        return NotModified(url)
                    _check_status(url, response)
                    _check_content_type(url, response, kind)
                    body = await self._read_capped(url, response, cut_at=ROBOTS_MAX_BYTES if kind == "robots" else None)
                    kept = {name: response.headers[name] for name in KEPT_HEADERS if name in response.headers}
                    return Page(url=url, status=response.status_code, headers=kept, body=body)
            except httpx.TimeoutException as exc:
                raise Unreachable(f"{url}: timed out ({type(exc).__name__})") from None
            except TimeoutError:
                raise Unreachable(f"{url}: no complete response within {self.settings.fetch_timeout:g} s") from None
            except httpx.TransportError as exc:  # refused, reset, broken chunks, a certificate refused, ...
                raise Unreachable(f"{url}: {type(exc).__name__}: {exc}") from None

    async def _read_capped(self, url: str, response: httpx.Response, cut_at: int | None = None) -> bytes:
        """The body, under the cap as sent and as inflated: raw bytes from the network, inflated
        here by `_inflate_onto` when the body is encoded. With `cut_at` (robots.txt), a longer body
        is not refused but cut there, after its last whole line; the rest is not read."""
        cap = cut_at or self.settings.fetch_max_bytes
        declared = response.headers.get("content-length", "")
        if cut_at is None and declared.isdigit() and int(declared) > cap:
            raise Rejected(Reason.TOO_LARGE, f"{url}: Content-Length {declared} exceeds NEWSFLOW_FETCH_MAX_BYTES ({cap})")
        encoding = response.headers.get("content-encoding", "")
        decompressor = _decompressor(url, encoding)
        body, received = bytearray(), 0
        try:
            async for chunk in response.aiter_raw():
                received += len(chunk)
                if decompressor is None:
                    body += chunk
                else:
                    _inflate_onto(body, decompressor, chunk, cap)
                if max(received, len(body)) > cap:
                    if cut_at is not None:
                        prefix = bytes(body[:cut_at])
                        return prefix[: prefix.rfind(b"\n") + 1]
                    raise Rejected(Reason.TOO_LARGE, f"{url}: body exceeds NEWSFLOW_FETCH_MAX_BYTES ({cap})")
        except zlib.error as exc:
            raise Rejected(Reason.UNDECODABLE, f"{url}: a broken {encoding} body ({exc})") from None
        return bytes(body)

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
            headers={"User-Agent": self.settings.user_agent, "Accept-Encoding": ACCEPT_ENCODING},
            timeout=self.settings.fetch_timeout,
            follow_redirects=False,  # each hop goes through the SSRF guard and robots.txt
            transport=_PinnedTransport(self._checked, connections),
        )
        self._clients.append(client)
        return client

    async def _check_address(self, url: str) -> None:
        """Step 1: resolve the URL's host once per run, as httpx will send it, and check every address."""
        try:
            parts = httpx.URL(url)
        except httpx.InvalidURL as exc:
            raise Rejected(Reason.SSRF_REFUSED, f"{url}: not a URL httpx can fetch ({exc})") from None
        if parts.scheme not in ("http", "https") or not parts.raw_host:
            raise Rejected(Reason.SSRF_REFUSED, f"{url}: only http and https URLs are fetched")
        name = parts.raw_host.decode("ascii")  # IDNA-encoded by httpx, as in the Host header and SNI
        if name in self._checked:
            return
        try:
            answers = await asyncio.get_running_loop().getaddrinfo(name, None, type=socket.SOCK_STREAM)
        except (socket.gaierror, ValueError) as exc:
            raise Unreachable(f"{url}: cannot resolve {name} ({exc})") from None
        addresses = tuple(dict.fromkeys(ipaddress.ip_address(sockaddr[0]) for *_, sockaddr in answers))
        for address in addresses:
            check_address(address, self.allow_networks, url)
        self._checked[name] = addresses

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


class _PinnedTransport(httpx.AsyncBaseTransport):
    """httpx's own transport, sending each request to the addresses the SSRF guard checked for its
    host, in the resolver's order (the next one when a connection is refused), and to no other.

    Only the connection goes to the address: the server sees the name, in the Host header (httpx
    set it from the URL) and in TLS, where it is the SNI and what the certificate must match
    (httpcore's `sni_hostname`). A host the guard did not check is refused.
    """

    def __init__(self, checked: Mapping[str, tuple[IPAddress, ...]], connections: int) -> None:
        self._checked = checked
        self._transport = httpx.AsyncHTTPTransport(limits=httpx.Limits(max_connections=connections))

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        name = request.url.raw_host.decode("ascii")
        addresses = self._checked.get(name)
        if not addresses:
            raise Rejected(Reason.SSRF_REFUSED, f"{request.url}: {name} was not checked by the SSRF guard")
        for address in addresses[:-1]:
            with contextlib.suppress(httpx.ConnectError):  # nothing was sent: the next address
                return await self._send(request, name, address)
        return await self._send(request, name, addresses[-1])

    async def _send(self, request: httpx.Request, name: str, address: IPAddress) -> httpx.Response:
        pinned = httpx.Request(
            request.method,
            request.url.copy_with(host=str(address)),
            headers=request.headers,
            stream=request.stream,
            extensions={**request.extensions, "sni_hostname": name},
        )
        return await self._transport.handle_async_request(pinned)

    async def aclose(self) -> None:
        await self._transport.aclose()


def check_address(address: IPAddress, allowed: Sequence[Network], url: str) -> None:
    """Refuse loopback, private, link-local (cloud metadata), site-local, reserved and multicast
    addresses. An IPv6 address that carries an IPv4 address (IPv4-mapped or -compatible, 6to4,
    NAT64) is judged by the IPv4 address; the local-use NAT64 prefix 64:ff9b:1::/48, where the
    operator chooses the embedded address's place, is reserved space, refused whatever it holds."""
    carried = _carried_ipv4(address) if isinstance(address, IPv6Address) else None
    judged = carried or address
    if any(candidate in network for candidate in (address, judged) for network in allowed):
        return
    site_local = isinstance(judged, IPv6Address) and judged.is_site_local
    if not judged.is_global or judged.is_multicast or judged.is_reserved or site_local:
        also = f" (IPv4 {carried})" if carried else ""
        raise Rejected(Reason.SSRF_REFUSED, f"{url}: resolves to the non-public address {address}{also}")


def _carried_ipv4(address: IPv6Address) -> IPv4Address | None:
    """The IPv4 address in ::ffff:a.b.c.d, 2002:aabb:ccdd::/48 (6to4), ::a.b.c.d or 64:ff9b::a.b.c.d."""
    carried = address.ipv4_mapped or address.sixtofour
    if carried is None and (address in IPV4_COMPATIBLE or address in NAT64):
        carried = IPv4Address(int(address) & 0xFFFF_FFFF)
    return carried


def _sendable(value: str | None) -> str | None:
    """`value` if it can be sent back in a header as it is: printable ASCII, at most MAX_VALIDATOR_CHARS."""
    return value if value and len(value) <= MAX_VALIDATOR_CHARS and value.isascii() and value.isprintable() else None


def _decompressor(url: str, content_encoding: str) -> "zlib._Decompress | None":
    """The decompressor of a body's Content-Encoding, None for none; several stacked (`gzip, gzip`)
    or one not in DECODED_ENCODINGS are refused."""
    encodings = [name for name in (part.strip().lower() for part in content_encoding.split(",")) if name not in ("", "identity")]
    if not encodings:
        return None
    if len(encodings) > 1 or encodings[0] not in DECODED_ENCODINGS:
        raise Rejected(
            Reason.UNSUPPORTED_CONTENT_ENCODING,
            f"{url}: Content-Encoding {content_encoding!r}; only one of {ACCEPT_ENCODING} is decoded",
        )
    return zlib.decompressobj(DECODED_ENCODINGS[encodings[0]])


def _inflate_onto(body: bytearray, decompressor: "zlib._Decompress", data: bytes, cap: int) -> None:
    """Inflate `data` onto `body`, each step at most to one byte past `cap` (enough to refuse it).
    Input left for lack of room is the decompressor's unconsumed_tail; nothing is left to flush at
    the end of the body, as the decompressor stops short of its input only past the cap."""
    while data and len(body) <= cap:
        body += decompressor.decompress(data, cap + 1 - len(body))
        data = decompressor.unconsumed_tail


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
