"""The sample news site of `newsflow demo`, and the small web server it shares with the tests.

`NewsSite` serves routes on 127.0.0.1 — plain data that may change while it runs — and answers
conditional requests (ETag, If-None-Match) like a real site; the tests add the misbehaviours
ingest must survive. `SampleSite` fills one with the publishers and articles of articles.yaml:
article pages in each publisher's layout, an RSS feed, an Atom feed, a news sitemap, robots.txt.
"""

import gzip
import hashlib
import html
import json
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.resources import files
from typing import Literal, Self
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict

from newsflow.errors import PortInUse

CONTENT = files("newsflow.ops.demo")
SEED_ARTICLE = CONTENT / "orda-kz-article.txt"  # the page newsflow was started from, as text


@dataclass
class Response:
    body: bytes
    content_type: str = "text/html; charset=utf-8"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    fail_first: int = 0  # answer 500 to this many requests before the real response


class NewsSite:
    def __init__(self, port: int = 0) -> None:
        self.routes: dict[str, Response] = {}
        self.requests: Counter[str] = Counter()
        try:
            self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        except OSError as exc:
            raise PortInUse(
                f"cannot serve the sample site on 127.0.0.1:{port} ({exc.strerror}); set NEWSFLOW_DEMO_SITE_PORT to a free port"
            ) from None
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base + path

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
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


class Publisher(BaseModel):
    """A site of the sample: its name, how it announces articles and how it lays out their pages."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    name: str
    feed: Literal["rss", "atom", "news-sitemap"]
    language: str
    home_note: str
    aside: str  # heading of the other headlines beside each article
    byline: str = "Original Author: {author}"
    dates: Literal["time", "meta", "json-ld"] = "time"  # where its pages state the publication date


ORDA = Publisher(id="orda", name="Orda.kz", feed="rss", language="en", home_note="© Orda.kz", aside="Latest news")


class SampleArticle(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    publisher: str
    slug: str
    title: str
    author: str
    published: datetime
    language: str
    paragraphs: list[str] = []
    seed: bool = False  # the paragraphs are those of the seed article
    copy_of: str | None = None  # "publisher/slug" of the article this one republishes after its own paragraphs
    broken: bool = False  # the page's text never arrives: the pipeline must dead-letter it


class SampleNews(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    publishers: list[Publisher]
    articles: list[SampleArticle]


def article_page(
    title: str,
    paragraphs: list[str],
    author: str | None = None,
    latest: Sequence[tuple[str, str]] = (),
    *,
    publisher: Publisher = ORDA,
    published: datetime | None = None,
    language: str | None = None,
) -> bytes:
    """An article page laid out like a news site: navigation, the article with its byline and
    date, a list of other headlines (`latest`: title and link), a footer."""
    escape = html.escape
    body = "\n".join(f"<p>{escape(paragraph)}</p>" for paragraph in paragraphs)
    byline = f'<p class="byline">{escape(publisher.byline.format(author=author))}</p>' if author else ""
    head, stamp = "", ""
    if published and publisher.dates == "meta":
        head = f'<meta property="article:published_time" content="{published.isoformat()}">'
    elif published and publisher.dates == "json-ld":
        data = {
            "@context": "https://schema.org",
            "@type": "NewsArticle",
            "headline": title,
            "datePublished": published.isoformat(),
            "author": [{"@type": "Person", "name": author}] if author else [],
            "publisher": {"@type": "Organization", "name": publisher.name},
        }
        head = f'<script type="application/ld+json">{json.dumps(data, ensure_ascii=False)}</script>'
    elif published:
        stamp = f'<time datetime="{published.isoformat()}">{published:%d %B %Y, %H:%M}</time>'
    items = "\n".join(f'<li><a href="{escape(href)}">{escape(headline)}</a></li>' for headline, href in latest)
    aside = f'<aside class="latest-news"><h2>{escape(publisher.aside)}</h2><ul>\n{items}\n</ul></aside>' if latest else ""
    home = f"/{publisher.id}/"
    return f"""<!DOCTYPE html>
<html lang="{language or publisher.language}"><head>
<meta charset="utf-8"><title>{escape(title)} | {escape(publisher.name)}</title>
<meta property="og:site_name" content="{escape(publisher.name)}">
{head}</head>
<body>
<nav><a href="{home}">Home</a> <a href="{home}politics">Politics</a> <a href="{home}economy">Economy</a></nav>
<article><h1>{escape(title)}</h1>
{stamp}
{body}
{byline}
</article>
{aside}
<footer>{escape(publisher.home_note)}</footer>
</body></html>""".encode()


def seed_article() -> tuple[str, list[str], str, list[str]]:
    """The seed article's title, paragraphs, author and the 'Latest news' headlines of its page."""
    lines = [line.strip() for line in SEED_ARTICLE.read_text(encoding="utf-8").splitlines()]
    title, rest = lines[0], lines[1:]
    latest_at = rest.index("Latest news")
    author_line = next(line for line in rest if line.startswith("Original Author:"))
    paragraphs = [line for line in rest[:latest_at] if line and line != author_line]
    latest = [line.removeprefix("- ") for line in rest[latest_at + 1 :] if line]
    return title, paragraphs, author_line.removeprefix("Original Author:").strip(), latest


def seed_article_page() -> bytes:
    """The seed article as the page it was taken from."""
    title, paragraphs, author, latest = seed_article()
    return article_page(title, paragraphs, author, [(headline, f"/news/{i}") for i, headline in enumerate(latest)])


def rss(site_title: str, items: list[dict[str, str]]) -> bytes:
    entries = "\n".join(
        f"""<item><title>{html.escape(item["title"])}</title><link>{html.escape(item["link"])}</link>
<guid>{html.escape(item.get("guid", item["link"]))}</guid>
{f"<pubDate>{item['date']}</pubDate>" if "date" in item else ""}
{f"<author>{html.escape(item['author'])}</author>" if "author" in item else ""}</item>"""
        for item in items
    )
    return f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>{html.escape(site_title)}</title><link>http://example.invalid/</link>
<description>test</description><language>en</language>
{entries}
</channel></rss>""".encode()


def atom(site_title: str, entries: list[dict[str, str]]) -> bytes:
    items = "\n".join(
        f"""<entry><title>{html.escape(entry["title"])}</title><link href="{html.escape(entry["link"])}"/>
<id>{html.escape(entry["link"])}</id><updated>{entry["updated"]}</updated>
<author><name>{html.escape(entry.get("author", "Staff"))}</name></author></entry>"""
        for entry in entries
    )
    return f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en"><title>{html.escape(site_title)}</title>
<id>urn:test:{html.escape(site_title)}</id><updated>2026-11-01T00:00:00Z</updated>
{items}
</feed>""".encode()


def news_sitemap(entries: list[dict[str, str]], gzipped: bool = False, name: str = "Test") -> bytes:
    urls = "\n".join(
        f"""<url><loc>{html.escape(entry["loc"])}</loc>
<news:news><news:publication><news:name>{html.escape(name)}</news:name>
<news:language>{entry.get("language", "en")}</news:language></news:publication>
<news:publication_date>{entry["date"]}</news:publication_date><news:title>{html.escape(entry["title"])}</news:title></news:news></url>"""
        for entry in entries
    )
    document = f"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
{urls}
</urlset>""".encode()
    return gzip.compress(document) if gzipped else document


FEED_PATHS = {"rss": "rss.xml", "atom": "atom.xml", "news-sitemap": "news-sitemap.xml"}


class SampleSite(NewsSite):
    """Three publishers of articles.yaml on one server: /<publisher>/news/<slug>, and each
    publisher's feed or news sitemap at /<publisher>/rss.xml, atom.xml or news-sitemap.xml."""

    def __init__(self, port: int) -> None:
        super().__init__(port)
        self.news = SampleNews.model_validate(yaml.safe_load((CONTENT / "articles.yaml").read_text(encoding="utf-8")))
        self.routes["/robots.txt"] = Response(b"User-agent: *\nAllow: /\n", "text/plain")
        for publisher in self.news.publishers:
            articles = [article for article in self.news.articles if article.publisher == publisher.id]
            for article in articles:
                self.routes[self.path(article)] = Response(self._page(publisher, article, articles))
            self.routes[self.feed_path(publisher)] = self._feed(publisher, articles)

    @staticmethod
    def path(article: SampleArticle) -> str:
        return f"/{article.publisher}/news/{article.slug}"

    @staticmethod
    def feed_path(publisher: Publisher) -> str:
        return f"/{publisher.id}/{FEED_PATHS[publisher.feed]}"

    def sources(self) -> list[dict]:
        """The sources-file entries of the sample's publishers, in the order the demo ingests them."""
        return [
            {
                "id": publisher.id,
                "name": publisher.name,
                "kind": "sitemap" if publisher.feed == "news-sitemap" else "feed",
                "urls": [self.url(self.feed_path(publisher))],
                "language": publisher.language,
                "requests_per_second": 50,
                "allow_networks": ["127.0.0.0/8"],  # the SSRF guard refuses loopback unless a source opts in
            }
            for publisher in self.news.publishers
        ]

    def paragraphs(self, article: SampleArticle) -> list[str]:
        if article.seed:
            return seed_article()[1]
        if article.copy_of:
            original = next(other for other in self.news.articles if f"{other.publisher}/{other.slug}" == article.copy_of)
            return article.paragraphs + self.paragraphs(original)
        return article.paragraphs

    def _page(self, publisher: Publisher, article: SampleArticle, articles: list[SampleArticle]) -> bytes:
        if article.broken:  # a live page whose text a script would load: nothing but its shell
            return article_page(article.title, article.paragraphs, publisher=publisher, language=article.language)
        others = [(other.title, self.path(other)) for other in articles if other is not article][:8]
        return article_page(
            article.title,
            self.paragraphs(article),
            article.author,
            others,
            publisher=publisher,
            published=article.published,
            language=article.language,
        )

    def _feed(self, publisher: Publisher, articles: list[SampleArticle]) -> Response:
        if publisher.feed == "rss":
            return Response(
                rss(
                    publisher.name,
                    [
                        {
                            "title": a.title,
                            "link": self.url(self.path(a)),
                            "date": format_datetime(a.published),
                            "author": a.author,
                        }
                        for a in articles
                    ],
                ),
                "application/rss+xml",
            )
        if publisher.feed == "atom":
            return Response(
                atom(
                    publisher.name,
                    [
                        {"title": a.title, "link": self.url(self.path(a)), "updated": a.published.isoformat(), "author": a.author}
                        for a in articles
                    ],
                ),
                "application/atom+xml",
            )
        return Response(
            news_sitemap(
                [
                    {"loc": self.url(self.path(a)), "date": a.published.isoformat(), "title": a.title, "language": a.language}
                    for a in articles
                ],
                name=publisher.name,
            ),
            "application/xml",
        )
