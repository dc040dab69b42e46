"""A small news site served on 127.0.0.1 for tests: feeds, a news sitemap, article pages, and
the misbehaviours ingest must survive (robots.txt rules, redirects, flaky and oversized pages,
wrong content types, broken feeds).

Pages are plain data the tests can change while the site runs; responses honour ETag and
If-None-Match like a real site.
"""

import gzip
import hashlib
import html
import threading
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

SEED = Path(__file__).resolve().parents[2] / "shared" / "seed" / "orda-kz-article.txt"


@dataclass
class Response:
    body: bytes
    content_type: str = "text/html; charset=utf-8"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    fail_first: int = 0  # answer 500 to this many requests before the real response


class NewsSite:
    def __init__(self) -> None:
        self.routes: dict[str, Response] = {}
        self.requests: Counter[str] = Counter()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base + path

    def __enter__(self) -> "NewsSite":
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                path = urlsplit(self.path).path  # like most sites, ignore the query (utm_source, ...)
                site.requests[path] += 1
                response = site.routes.get(path)
                if response is None:
                    return self._send(404, {"Content-Type": "text/plain"}, b"not found")
                if site.requests[path] <= response.fail_first:
                    return self._send(500, {"Content-Type": "text/plain"}, b"try again")
                etag = '"' + hashlib.sha256(response.body).hexdigest()[:16] + '"'
                if response.status == 200 and self.headers.get("If-None-Match") == etag:
                    return self._send(304, {"ETag": etag}, b"")
                headers = {"Content-Type": response.content_type, "ETag": etag, **response.headers}
                self._send(response.status, headers, response.body)

            def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        return Handler


def article_page(title: str, paragraphs: list[str], author: str | None = None, latest: list[str] = ()) -> bytes:
    """An article page laid out like a news site: navigation, article, byline, a 'Latest news' list."""
    body = "\n".join(f"<p>{html.escape(paragraph)}</p>" for paragraph in paragraphs)
    byline = f'<p class="byline">Original Author: {html.escape(author)}</p>' if author else ""
    items = "\n".join(f'<li><a href="/news/{i}">{html.escape(item)}</a></li>' for i, item in enumerate(latest))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)} | Orda.kz</title></head>
<body>
<nav><a href="/">Home</a> <a href="/en/politics">Politics</a> <a href="/en/economy">Economy</a></nav>
<article><h1>{html.escape(title)}</h1>
{body}
{byline}
</article>
<aside class="latest-news"><h2>Latest news</h2><ul>
{items}
</ul></aside>
<footer>© Orda.kz</footer>
</body></html>""".encode()


def seed_article_page() -> bytes:
    """The seed article (shared/seed/orda-kz-article.txt) as the page it was taken from."""
    lines = [line.strip() for line in SEED.read_text().splitlines()]
    title, rest = lines[0], lines[1:]
    latest_at = rest.index("Latest news")
    author_line = next(line for line in rest if line.startswith("Original Author:"))
    paragraphs = [line for line in rest[:latest_at] if line and line != author_line]
    latest = [line.removeprefix("- ") for line in rest[latest_at + 1:] if line]
    return article_page(title, paragraphs, author_line.removeprefix("Original Author:").strip(), latest)


def rss(site_title: str, items: list[dict[str, str]]) -> bytes:
    entries = "\n".join(
        f"""<item><title>{html.escape(item['title'])}</title><link>{html.escape(item['link'])}</link>
<guid>{html.escape(item.get('guid', item['link']))}</guid>
{f"<pubDate>{item['date']}</pubDate>" if 'date' in item else ''}
{f"<author>{html.escape(item['author'])}</author>" if 'author' in item else ''}</item>"""
        for item in items
    )
    return f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>{html.escape(site_title)}</title><link>http://example.invalid/</link>
<description>test</description><language>en</language>
{entries}
</channel></rss>""".encode()


def atom(site_title: str, entries: list[dict[str, str]]) -> bytes:
    items = "\n".join(
        f"""<entry><title>{html.escape(entry['title'])}</title><link href="{html.escape(entry['link'])}"/>
<id>{html.escape(entry['link'])}</id><updated>{entry['updated']}</updated>
<author><name>{html.escape(entry.get('author', 'Staff'))}</name></author></entry>"""
        for entry in entries
    )
    return f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en"><title>{html.escape(site_title)}</title>
<id>urn:test:{html.escape(site_title)}</id><updated>2026-11-01T00:00:00Z</updated>
{items}
</feed>""".encode()


def news_sitemap(entries: list[dict[str, str]], gzipped: bool = False) -> bytes:
    urls = "\n".join(
        f"""<url><loc>{html.escape(entry['loc'])}</loc>
<news:news><news:publication><news:name>Test</news:name><news:language>{entry.get('language', 'en')}</news:language></news:publication>
<news:publication_date>{entry['date']}</news:publication_date><news:title>{html.escape(entry['title'])}</news:title></news:news></url>"""
        for entry in entries
    )
    document = f"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
{urls}
</urlset>""".encode()
    return gzip.compress(document) if gzipped else document
