"""Hostile inputs for newsflow: a small local server of misbehaviours and builders of hostile pages.

`HostileServer` serves routes on 127.0.0.1 like `newsflow.ops.demo.site.NewsSite`, but each route is a
behaviour written straight to the socket, so it can do what a well-behaved server cannot: an
endless chunked body, a byte per second, a gzip bomb with `Content-Encoding`, a redirect loop.
It can also answer over TLS with a certificate of `self_signed`. `Listener` is the internal service
behind a rebinding name: a port on a refused address that keeps whatever reaches it.
The builders make the bodies: XML entity bombs and external entities, compression bombs, binaries,
broken encodings, deep or huge markup, JSON-LD bombs, pages with 100k links.
"""

import gzip
import json
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Callable, Iterable
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from email.message import Message
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import urlsplit

from newsflow.ops.demo.site import NewsSite, article_page

Behaviour = Callable[[BaseHTTPRequestHandler], None]
MIB = 1024 * 1024
WORDS = (
    "The parliament of Kazakhstan debated the reform of the constitution for a third day on Tuesday, "
    "and the deputies agreed that the changes would need a referendum before the end of the year."
)


class HostileServer(NewsSite):
    """`routes` maps a path to a behaviour; unknown paths answer 404. Threads are daemons: a
    behaviour still dripping when the test ends does not hold the test up."""

    # NewsSite's routes hold Responses, which only its handler reads; this class replaces that handler
    # with one that runs behaviours, so here they hold behaviours (nothing else touches them).
    routes: dict[str, Behaviour]  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self._server.daemon_threads = True
        self.received: list[tuple[str, Message]] = []  # every request's path and headers, in order

    def serve_tls(self, certificate: Path) -> list[str]:
        """Answer over TLS with `certificate` (a PEM of its key and itself), from now on; returns the
        list the server name of every handshake (SNI) is appended to."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(certificate)
        names: list[str] = []
        context.sni_callback = lambda connection, name, context: names.append(name)
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        return names

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                path = urlsplit(self.path).path
                server.requests[path] += 1
                server.received.append((path, self.headers))
                behaviour = server.routes.get(path, status(404, b"not found", "text/plain"))
                with suppress(BrokenPipeError, ConnectionResetError, TimeoutError):  # the client gave up: what we want
                    behaviour(self)
                self.close_connection = True

            def log_message(self, *args: object) -> None:
                pass

        return Handler


class Listener:
    """A TCP port on `host` that counts the connections it is offered and keeps the first bytes of
    each, answering nothing: an internal service on an address the SSRF guard refuses."""

    def __init__(self, host: str) -> None:
        self._socket = socket.create_server((host, 0))
        self.port: int = self._socket.getsockname()[1]
        self.connections = 0
        self.received = bytearray()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        with suppress(OSError):  # the socket shut down by __exit__
            while True:
                connection, _ = self._socket.accept()
                self.connections += 1
                with connection, suppress(OSError):
                    connection.settimeout(2)
                    self.received += connection.recv(65536)

    def __enter__(self) -> "Listener":
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._socket.shutdown(socket.SHUT_RDWR)  # wakes the accept() of _serve, which close() would not
        self._socket.close()


def self_signed(name: str, directory: Path) -> Path:
    """A PEM file of a new key and a certificate for the DNS name `name` that it signs itself: the
    server's certificate, and the one authority a client that must trust it is given."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    path = directory / f"{name}.pem"
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        + certificate.public_bytes(serialization.Encoding.PEM)
    )
    return path


# Behaviours ----------------------------------------------------------------------------------


def _head(handler: BaseHTTPRequestHandler, code: int, headers: dict[str, str]) -> None:
    handler.send_response(code)
    for name, value in headers.items():
        handler.send_header(name, value)
    handler.send_header("Connection", "close")
    handler.end_headers()


def send(body: bytes, content_type: str = "text/html; charset=utf-8", code: int = 200, **headers: str) -> Behaviour:
    """A plain response with Content-Length; extra headers by keyword (`Content_Encoding="gzip"`)."""
    extra = {name.replace("_", "-"): value for name, value in headers.items()}

    def behaviour(handler: BaseHTTPRequestHandler) -> None:
        _head(handler, code, {"Content-Type": content_type, "Content-Length": str(len(body)), **extra})
        handler.wfile.write(body)

    return behaviour


def status(code: int, body: bytes = b"", content_type: str = "text/plain") -> Behaviour:
    return send(body, content_type, code)


def redirect(location: str, code: int = 302) -> Behaviour:
    return send(b"", "text/plain", code, Location=location)


def chunked(
    chunks: Callable[[], Iterable[bytes]],
    content_type: str = "text/html; charset=utf-8",
    pause: float = 0.0,
    max_seconds: float = 120.0,
) -> Behaviour:
    """A chunked body from the iterable `chunks()`, `pause` seconds between chunks, for at most
    `max_seconds` (so that even a forgotten connection ends)."""

    def behaviour(handler: BaseHTTPRequestHandler) -> None:
        _head(handler, 200, {"Content-Type": content_type, "Transfer-Encoding": "chunked"})
        deadline = time.monotonic() + max_seconds
        for chunk in chunks():
            if time.monotonic() > deadline:
                return
            handler.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            handler.wfile.flush()
            if pause:
                time.sleep(pause)
        handler.wfile.write(b"0\r\n\r\n")

    return behaviour


def endless() -> Behaviour:
    """An endless chunked body of an article page that never closes."""
    block = b"<p>" + WORDS.encode() * 100 + b"</p>\n"

    def chunks():
        yield b"<html><head><title>Endless</title></head><body><article>"
        while True:
            yield block

    return chunked(chunks)


def drip(pause: float = 1.0) -> Behaviour:
    """A page sent a byte per `pause` seconds: each read is quick, the whole never arrives."""
    page = article_page("Slow drip", [WORDS] * 5)

    def chunks():
        for byte in page:
            yield bytes([byte])

    return chunked(chunks, pause=pause, max_seconds=60)


def large_streamed(size: int) -> Behaviour:
    """`size` bytes of an article page, chunked: no Content-Length to refuse it early."""
    block = b"<p>" + WORDS.encode() * 50 + b"</p>\n"

    def chunks():
        sent = 0
        yield b"<html><body><article>"
        while sent < size:
            yield block
            sent += len(block)
        yield b"</article></body></html>"

    return chunked(chunks)


# Compression bombs ---------------------------------------------------------------------------


def gzip_bomb(size: int) -> bytes:
    """`size` bytes of zeros, gzipped (about 1000:1), built without holding the inflated bytes."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = b"\0" * MIB
    return b"".join(compressor.compress(block) for _ in range(size // MIB)) + compressor.flush()


def deflate_bomb(size: int) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS)  # zlib-wrapped, as HTTP "deflate" means
    block = b" " * MIB
    return b"".join(compressor.compress(block) for _ in range(size // MIB)) + compressor.flush()


def zstd_bomb(size: int) -> bytes:
    """`size` bytes of zeros in one zstd frame (32 KB for 1 GiB)."""
    import zstandard

    compressor = zstandard.ZstdCompressor().compressobj()
    block = b"\0" * MIB
    return b"".join(compressor.compress(block) for _ in range(size // MIB)) + compressor.flush()


def gzipped_sitemap_bomb(size: int) -> bytes:
    """A gzipped urlset whose single <loc> inflates to `size` bytes of whitespace."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    head = b'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>'
    parts = [compressor.compress(head)] + [compressor.compress(b" " * MIB) for _ in range(size // MIB)]
    return b"".join(parts) + compressor.compress(b"</loc></url></urlset>") + compressor.flush()


# XML -----------------------------------------------------------------------------------------

BILLION_LAUGHS_DTD = """<!DOCTYPE {root} [
<!ENTITY lol "lol">
<!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
<!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
<!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
<!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
<!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
<!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>"""
XXE_DTD = """<!DOCTYPE {root} [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>"""
# One harmless-looking 64 KB entity used 5,000 times: 320 MB if expanded ("quadratic blowup").
QUADRATIC_DTD = '<!DOCTYPE {root} [<!ENTITY big "' + "a" * 65536 + '">]>'


def rss_with(dtd: str, title: str, links: list[str]) -> bytes:
    items = "".join(f"<item><title>{title}</title><link>{link}</link><guid>{link}</guid></item>" for link in links)
    return (
        f'<?xml version="1.0" encoding="utf-8"?>\n{dtd.format(root="rss")}\n<rss version="2.0"><channel>'
        f"<title>{title}</title><link>http://example.invalid/</link><description>{title}</description>"
        f"{items}</channel></rss>"
    ).encode()


def sitemap_with(dtd: str, loc_text: str, locs: list[str]) -> bytes:
    urls = "".join(f"<url><loc>{loc}</loc><lastmod>{loc_text}</lastmod></url>" for loc in locs)
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n{dtd.format(root="urlset")}\n'
        f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'
    ).encode()


def rss_of_links(links: list[str]) -> bytes:
    """An RSS feed of bare <item><link> entries: 100,000 of them stay under the fetch cap."""
    items = "".join(f"<item><link>{link}</link></item>" for link in links)
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>Links</title>{items}</channel></rss>'.encode()


def sitemap_index(locs: list[str]) -> bytes:
    children = "".join(f"<sitemap><loc>{loc}</loc></sitemap>" for loc in locs)
    return f'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{children}</sitemapindex>'.encode()


def json_feed(items: list[object]) -> bytes:
    return json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": "JSON", "items": items}).encode()


def robots_with_rules(size: int, first: str, last: str) -> bytes:
    """A robots.txt of about `size` bytes: one group for every agent, `first`, then wildcard rules
    that match no page, then `last` — past the first 500 KiB when `size` is larger."""
    head = f"User-agent: *\n{first}\n".encode()
    rules = b"".join(b"Disallow: /*?p%d=\n" % n for n in range(size // 20))
    return head + rules + f"{last}\n".encode()


# Pages ---------------------------------------------------------------------------------------


def article(title: str = "A hostile story", paragraphs: int = 5, head: str = "", charset: str = "utf-8") -> str:
    """A plain article page of about 35 words a paragraph, with `head` inside <head>."""
    body = "".join(f"<p>Paragraph {n}: {WORDS}</p>\n" for n in range(paragraphs))  # distinct: trafilatura drops repeats
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="{charset}"><title>{title}</title>{head}</head>'
        f"<body><article><h1>{title}</h1>\n{body}</article></body></html>"
    )


def png() -> bytes:
    raw = b"\0" + b"\xff\x00\x00" * 16

    def chunk(kind: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", (16).to_bytes(4, "big") + (1).to_bytes(4, "big") + b"\x08\x02\0\0\0")
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def pdf() -> bytes:
    """A text-only PDF: no NUL byte anywhere, so only its signature betrays it."""
    text = "BT /F1 12 Tf 72 720 Td (" + WORDS + ") Tj ET"
    return (
        b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
        b"2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj\n"
        b"3 0 obj << /Type /Page /Parent 2 0 R /Contents 4 0 R >> endobj\n"
        + f"4 0 obj << /Length {len(text)} >> stream\n{text}\nendstream endobj\n".encode()
        + b"trailer << /Root 1 0 R >>\n%%EOF\n"
    )


def zip_file() -> bytes:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("article.html", article())
    return buffer.getvalue()


def invalid_utf8() -> bytes:
    """Declared UTF-8; a third of its bytes are stray continuation and invalid lead bytes."""
    return article("Invalid UTF-8").encode().replace(b"e", b"\xc3\x28").replace(b"a", b"\xff")


def mixed_encodings() -> bytes:
    """UTF-8 Russian paragraphs, then the same paragraphs in windows-1251, in one page."""
    russian = "Токаев подписал закон о парламентской реформе, который вступит в силу после референдума. " * 4
    head = '<!DOCTYPE html><html lang="ru"><head><meta charset="utf-8"><title>Смешанные кодировки</title></head><body><article>'
    return (
        head.encode()
        + "".join(f"<p>{russian}</p>" for _ in range(3)).encode("utf-8")
        + "".join(f"<p>{russian}</p>" for _ in range(3)).encode("windows-1251")
        + b"</article></body></html>"
    )


def wrong_charset() -> bytes:
    """UTF-8 Russian text declared as windows-1252 in the header and the page."""
    russian = "Токаев подписал закон о парламентской реформе, который вступит в силу после референдума. " * 4
    page = (
        f'<!DOCTYPE html><html lang="ru"><head><meta charset="windows-1252"><title>Неверная кодировка</title></head>'
        f"<body><article><h1>Неверная кодировка</h1>{''.join(f'<p>{russian}</p>' for _ in range(4))}</article></body></html>"
    )
    return page.encode("utf-8")


def nul_bytes() -> bytes:
    """An article with NUL bytes after its first 4 KB, where ingest's binary sniffing does not look."""
    page = article("NUL bytes", paragraphs=40).encode()
    return page[:5000] + page[5000:].replace(b". ", b".\0 ")


def huge_attribute(size: int = 10_000_000) -> str:
    return article("Huge attribute", head=f'<meta name="description" content="{"x" * size}">').replace(
        "<article>", f'<article data-blob="{"y" * 1000}" style="{"z" * size}">', 1
    )


def deep_nesting(depth: int = 100_000) -> str:
    return (
        article("Deeply nested")
        .replace("<article>", "<article>" + "<div>" * depth, 1)
        .replace("</article>", "</div>" * depth + "</article>", 1)
    )


def links_page(count: int = 100_000) -> str:
    links = "".join(f'<li><a href="/news/{n}">Headline number {n}</a></li>' for n in range(count))
    return article("A hundred thousand links").replace("</article>", f"</article><ul>{links}</ul>", 1)


def json_ld(data: object) -> str:
    return f'<script type="application/ld+json">{json.dumps(data)}</script>'


def json_ld_deep(depth: int = 100_000) -> str:
    return article(
        "Deep JSON-LD",
        head='<script type="application/ld+json">' + '{"@type": "NewsArticle", "a": ' + "[" * depth + "]" * depth + "}</script>",
    )


def json_ld_huge(items: int = 200_000) -> str:
    graph = [
        {
            "@type": "NewsArticle",
            "headline": f"Headline {n}",
            "datePublished": "2025-11-03T09:00:00Z",
            "author": {"@type": "Person", "name": f"Author {n}"},
        }
        for n in range(items)
    ]
    return article("Huge JSON-LD", head=json_ld({"@context": "https://schema.org", "@graph": graph}))


def dated(published: str, where: str) -> str:
    """An article whose publication date `published` stands in JSON-LD or <meta>."""
    if where == "json-ld":
        head = json_ld(
            {
                "@context": "https://schema.org",
                "@type": "NewsArticle",
                "headline": "Dated story",
                "datePublished": published,
                "dateModified": published,
            }
        )
    else:
        head = (
            f'<meta property="article:published_time" content="{published}">'
            f'<meta property="article:modified_time" content="{published}">'
        )
    return article("Dated story", head=head)


def gzip_page(page: bytes) -> bytes:
    return gzip.compress(page)
