import gzip
import json
from datetime import UTC, datetime, timedelta

import pytest

from ingest.discovery import parse_date, parse_feed, parse_listing, parse_sitemap
from newsflow.errors import Rejected
from newsflow.ops.demo.site import atom, news_sitemap, rss

BASE = "https://news.example/"


def test_rss_entries_keep_title_date_authors_and_language():
    (link,) = parse_feed(
        rss(
            "Test",
            [{"title": "Reform", "link": "/en/reform", "author": "Nikita Drobny", "date": "Mon, 03 Nov 2025 09:00:00 +0500"}],
        ),
        BASE + "feed.xml",
    ).links
    assert link.url == "https://news.example/en/reform"
    assert link.discovery.title == "Reform" and link.discovery.language == "en"
    assert link.discovery.published_at == datetime(2025, 11, 3, 4, 0, tzinfo=UTC)
    assert link.discovery.authors == ["Nikita Drobny"]
    assert link.discovery.kind == "feed" and link.discovery.listing_url == BASE + "feed.xml"


def test_atom_updated_is_the_modification_date():
    (link,) = parse_feed(atom("Test", [{"title": "A", "link": BASE + "a", "updated": "2026-11-01T10:00:00+06:00"}]), BASE).links
    assert link.discovery.modified_at == datetime(2026, 11, 1, 4, 0, tzinfo=UTC)
    assert link.discovery.authors == ["Staff"]


def test_json_feed_items_are_links():
    feed = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "T",
        "language": "ru-RU",
        "items": [
            {
                "id": "1",
                "url": "https://news.example/1",
                "title": "One",
                "date_published": "2026-11-01T08:00:00Z",
                "authors": [{"name": "A. Author"}],
                "summary": "S",
            },
            {"id": "2", "content_text": "no url: skipped"},
        ],
    }
    (link,) = parse_feed(json.dumps(feed).encode(), BASE + "feed.json", "application/feed+json").links
    assert link.url == "https://news.example/1" and link.discovery.entry_id == "1"
    assert link.discovery.language == "ru" and link.discovery.authors == ["A. Author"]
    assert link.discovery.published_at == datetime(2026, 11, 1, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize("body", [b"<html><body>Not a feed", b"", b'{"version": "1", "items": []}'])
def test_what_is_not_a_feed_is_an_invalid_listing(body):
    with pytest.raises(Rejected, match="not a"):
        parse_feed(body, BASE + "feed.xml")


def test_a_news_sitemap_gives_publication_dates_titles_and_languages():
    entries = [{"loc": BASE + "ru/1", "date": "2026-11-02T09:00:00+05:00", "title": "Токаев", "language": "ru"}]
    for body in (news_sitemap(entries), news_sitemap(entries, gzipped=True)):
        (link,) = parse_sitemap(body, BASE + "sitemap.xml", max_bytes=1 << 20).links
        assert link.url == BASE + "ru/1" and link.discovery.title == "Токаев" and link.discovery.language == "ru"
        assert link.discovery.published_at == datetime(2026, 11, 2, 4, 0, tzinfo=UTC)


def test_a_sitemap_index_lists_its_children_and_lastmod_is_the_modification_date():
    index = b"""<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
      <sitemap><loc>/sitemap-1.xml</loc></sitemap><sitemap><loc>https://news.example/sitemap-2.xml</loc></sitemap>
    </sitemapindex>"""
    assert parse_sitemap(index, BASE + "index.xml", 1 << 20).sitemaps == [BASE + "sitemap-1.xml", BASE + "sitemap-2.xml"]
    urlset = b"""<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
      <url><loc>https://news.example/a</loc><lastmod>2026-11-03</lastmod></url></urlset>"""
    (link,) = parse_sitemap(urlset, BASE, 1 << 20).links
    assert link.discovery.modified_at == datetime(2026, 11, 3, tzinfo=UTC)


def test_sitemaps_do_not_expand_entities_or_inflate_without_bound():
    bomb = b"""<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>
    <urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>https://x.example/&b;</loc></url></urlset>"""
    links = parse_sitemap(bomb, BASE, 1 << 20).links
    assert all("aaaaaaaaaa" not in link.url for link in links)
    with pytest.raises(Rejected, match="inflates beyond"):
        parse_sitemap(gzip.compress(b"<urlset>" + b" " * 200_000 + b"</urlset>"), BASE, max_bytes=100_000)
    with pytest.raises(Rejected, match="not a"):
        parse_sitemap(b"<rss/>", BASE, 1 << 20)


def test_a_listing_gives_the_selected_links_made_absolute():
    page = b"""<html><body><nav><a href="/about">About</a></nav>
      <ul class="headlines"><li><a href="/en/1">First  story</a></li><li class="x"><span><a href="2">Second</a></span></li></ul>
    </body></html>"""
    links = parse_listing(page, BASE + "en/", "ul.headlines li").links
    assert [(link.url, link.discovery.title) for link in links] == [(BASE + "en/1", "First story"), (BASE + "en/2", "Second")]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-02", datetime(2026, 11, 2, tzinfo=UTC)),
        ("2026-11-02T09:00:00Z", datetime(2026, 11, 2, 9, tzinfo=UTC)),
        ("yesterday", None),
        (None, None),
    ],
)
def test_dates_are_utc_or_none(text, expected):
    assert parse_date(text) == expected


def test_a_malformed_json_feed_item_costs_only_itself():
    items = [
        {"id": 7, "url": BASE + "1", "title": 5, "date_published": 5},  # numbers read as strings, as the spec asks of ids
        {"url": ["x"]},
        {"url": "http://[x/"},
        {"url": BASE + "2", "authors": 5},
        5,
        {"content_text": "no url: not an article"},
        {"url": BASE + "3"},
    ]
    found = parse_feed(json.dumps({"version": "https://jsonfeed.org/version/1.1", "items": items}).encode(), BASE)
    assert [link.url for link in found.links] == [BASE + "1", BASE + "3"]
    assert found.links[0].discovery.title == "5" and found.links[0].discovery.entry_id == "7"
    assert found.invalid_entries == 4
    assert found.first_invalid is not None and found.first_invalid.reason == "invalid_entry"
    assert "ValidationError" in str(found.first_invalid) and "\n" not in str(found.first_invalid)


def test_a_json_feed_nested_deeper_than_the_parser_goes_is_an_invalid_listing():
    body = b'{"version": "https://jsonfeed.org/version/1.1", "items": [' + b"[" * 100_000 + b"]" * 100_000 + b"]}"
    with pytest.raises(Rejected, match="not a JSON Feed") as refused:
        parse_feed(body, BASE + "feed.json", "application/feed+json")
    assert refused.value.reason == "invalid_listing"


def test_a_link_that_is_not_a_url_costs_only_its_entry():
    bad, good = "http://[x/", BASE + "good"
    feed = parse_feed(rss("Test", [{"title": "Bad", "link": bad}, {"title": "Good", "link": good}]), BASE)
    urlset = f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>{bad}</loc></url><url><loc>{good}</loc></url></urlset>'
    sitemap = parse_sitemap(urlset.encode(), BASE, 1 << 20)
    listing = parse_listing(f'<ul><li><a href="{bad}">Bad</a></li><li><a href="{good}">Good</a></li></ul>'.encode(), BASE, "li")
    for found in (feed, sitemap, listing):
        assert [link.url for link in found.links] == [good] and found.invalid_entries == 1


def test_a_sitemap_index_lists_its_children_newest_first():
    index = b"""<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
      <sitemap><loc>/undated.xml</loc></sitemap>
      <sitemap><loc>/2026-10.xml</loc><lastmod>2026-10-31</lastmod></sitemap>
      <sitemap><loc>/2026-11.xml</loc><lastmod>2026-11-30T12:00:00+05:00</lastmod></sitemap>
    </sitemapindex>"""
    children = parse_sitemap(index, BASE + "index.xml", 1 << 20).sitemaps
    assert children == [BASE + "2026-11.xml", BASE + "2026-10.xml", BASE + "undated.xml"]


@pytest.mark.parametrize(
    ("channel", "interval"),
    [
        ("<ttl>60</ttl>", timedelta(hours=1)),
        ("<sy:updatePeriod>daily</sy:updatePeriod><sy:updateFrequency>2</sy:updateFrequency>", timedelta(hours=12)),
        ("<sy:updatePeriod>hourly</sy:updatePeriod>", timedelta(hours=1)),
        ("<ttl>30</ttl><sy:updatePeriod>hourly</sy:updatePeriod>", timedelta(hours=1)),  # the longer
        ("<ttl>soon</ttl><sy:updatePeriod>sometimes</sy:updatePeriod><sy:updateFrequency>0</sy:updateFrequency>", None),
        ("", None),
    ],
)
def test_a_feed_announces_how_often_it_changes(channel, interval):
    body = f"""<?xml version="1.0"?><rss version="2.0" xmlns:sy="http://purl.org/rss/1.0/modules/syndication/"><channel>
    <title>t</title><link>{BASE}</link>{channel}<lastBuildDate>Tue, 01 Dec 2026 11:00:00 +0000</lastBuildDate>
    <item><title>a</title><link>{BASE}a</link></item></channel></rss>""".encode()
    listing = parse_feed(body, BASE + "rss")
    assert listing.update_interval == interval
    assert listing.updated_at == datetime(2026, 12, 1, 11, tzinfo=UTC)
