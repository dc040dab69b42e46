import json
from datetime import UTC, datetime

import pytest

from ingest.contract import Discovery, RawArticle
from newsflow.errors import Reason, Rejected
from newsflow.ops.demo.site import article_page, seed_article_page
from newsflow.text import word_count
from tests.unit.test_text import JAPANESE, JAPANESE_ARTICLE
from transform.normalize import normalize

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
BODY = [
    "The parliament of Kazakhstan debated the constitutional reform for a second day on Thursday, "
    "with deputies proposing changes to forty articles of the fundamental law.",
    "The working group will publish its proposals next month after a public discussion.",
]


def raw(html: str, url: str = "https://orda.kz/en/news/story", **discovery: object) -> RawArticle:
    return RawArticle(
        article_id="a" * 64,
        source_id="orda-kz-en",
        url=url,
        canonical_url=url,
        fetched_at=NOW,
        first_seen_at=NOW,
        status=200,
        headers={},
        content_type="text/html",
        encoding="utf-8",
        html=html,
        discovery=Discovery(kind=discovery.pop("kind", "feed"), listing_url="https://orda.kz/en/rss", **discovery),
    )


def page_with_head(head: str, paragraphs: list[str] = BODY, byline: str = "") -> str:
    body = "".join(f"<p>{paragraph}</p>" for paragraph in paragraphs)
    return (
        f"<html><head><title>Reform debate</title>{head}</head>"
        f"<body><article><h1>Reform debate</h1>{byline}{body}</article></body></html>"
    )


def test_the_seed_page_becomes_one_clean_article():
    article = normalize(raw(seed_article_page().decode()), NOW, 25)
    assert article.title == "Toqayev: Parliamentary Reform Will Require Major Constitutional Changes"
    assert article.authors == ["Nikita Drobny"]
    assert article.body.startswith("As part of the upcoming parliamentary reform")
    assert article.body.endswith("what results those changes produced.")
    assert "Latest news" not in article.body and "Dimash Qudaibergen" not in article.body
    assert article.language == "en" and article.lead == article.body.split("\n")[0]
    assert article.site_name == "Orda.kz" and article.text_folded.startswith("tkv")


def test_json_ld_dates_and_authors_win_and_say_so():
    ld = {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "headline": "Reform debate",
        "datePublished": "2026-11-27T09:30:00+05:00",
        "dateModified": "2026-11-27T15:00:00+05:00",
        "author": [{"@type": "Person", "name": "Aigerim Sadykova"}],
    }
    html = page_with_head(
        f'<script type="application/ld+json">{json.dumps(ld)}</script>'
        '<meta property="article:published_time" content="2026-11-26T00:00:00Z">'
    )
    article = normalize(raw(html, published_at=datetime(2026, 11, 25, tzinfo=UTC)), NOW, 25)
    assert (article.published_at.value, article.published_at.source) == (datetime(2026, 11, 27, 4, 30, tzinfo=UTC), "json-ld")
    assert article.modified_at.source == "json-ld" and article.authors == ["Aigerim Sadykova"]


def test_meta_then_feed_then_url_dates_in_that_order():
    meta = page_with_head('<meta property="article:published_time" content="2026-11-26T08:00:00Z">')
    assert normalize(raw(meta, published_at=datetime(2026, 11, 25, tzinfo=UTC)), NOW, 25).published_at.source == "meta"
    plain = page_with_head("")
    from_feed = normalize(
        raw(plain, "https://orda.kz/en/2026/11/20/story", published_at=datetime(2026, 11, 25, tzinfo=UTC)), NOW, 25
    )
    assert (from_feed.published_at.source, from_feed.published_at.value) == ("feed", datetime(2026, 11, 25, tzinfo=UTC))
    from_url = normalize(raw(plain, "https://orda.kz/en/2026/11/20/story", kind="listing"), NOW, 25)
    assert (from_url.published_at.source, from_url.published_at.value) == ("url", datetime(2026, 11, 20, tzinfo=UTC))


def test_a_date_in_the_future_is_not_stored():
    future = page_with_head('<meta property="article:published_time" content="2027-01-01T00:00:00Z">')
    article = normalize(raw(future, published_at=datetime(2026, 11, 28, 11, tzinfo=UTC)), NOW, 25)
    assert (article.published_at.source, article.published_at.value) == ("feed", datetime(2026, 11, 28, 11, tzinfo=UTC))


@pytest.mark.parametrize(
    "byline",
    [
        "<p>By Aigerim Sadykova</p>",
        "<p>Author: Aigerim Sadykova</p>",
        "<p>Original Author: Aigerim Sadykova and Nikita Drobny</p>",
    ],
)
def test_bylines_in_the_text_become_authors(byline):
    article = normalize(raw(page_with_head("", byline=byline)), NOW, 25)
    assert article.authors[0] == "Aigerim Sadykova"
    assert "Aigerim" not in article.body


def test_russian_and_kazakh_pages_are_recognised():
    russian = article_page(
        "Токаев подписал закон",
        ["Президент Казахстана подписал закон о парламентской реформе, которая изменит около сорока статей Конституции страны."]
        * 3,
    )
    kazakh = article_page(
        "Тоқаев заңға қол қойды",
        ["Мемлекет басшысы парламенттік реформа туралы заңға қол қойды, ол Конституцияның қырыққа жуық бабын өзгертеді."] * 3,
    )
    assert normalize(raw(russian.decode()), NOW, 10).language == "ru"
    assert normalize(raw(kazakh.decode()), NOW, 10).language == "kk"


def test_what_is_not_an_article_is_refused_with_a_reason():
    with pytest.raises(Rejected) as empty:
        normalize(raw("<html><body></body></html>"), NOW, 25)
    assert empty.value.reason == Reason.EMPTY_BODY
    with pytest.raises(Rejected) as short:
        normalize(raw(page_with_head("", ["Too short to be news."])), NOW, 25)
    assert short.value.reason == Reason.TOO_SHORT


def test_a_372_character_japanese_article_is_not_too_short():
    page = page_with_head('<meta name="author" content="山田太郎">', JAPANESE).replace("<html>", '<html lang="ja">')
    article = normalize(raw(page, url="https://www.example.jp/news/bousai"), NOW, 25)
    assert article.body.split("\n") == JAPANESE
    assert article.word_count == word_count(JAPANESE_ARTICLE) > 25
    assert article.language == "ja"


def test_absurd_names_from_the_page_or_the_feed_are_dropped_and_the_article_kept():
    # 40,000 characters, 160,000 bytes of UTF-8: a keyword term Elasticsearch would refuse with the document
    junk = "Ж" * 40_000
    page = page_with_head(f'<meta property="og:site_name" content="{junk}">')
    article = normalize(raw(page, authors=[junk, "By Aigerim Sadykova", "Aigerim Sadykova"]), NOW, 25)
    assert article.authors == ["Aigerim Sadykova"]
    assert article.site_name == "orda.kz"  # the next candidate: the URL's domain
    assert normalize(
        raw(page_with_head(f'<meta name="author" content="{junk}">'), authors=["Nikita Drobny"]), NOW, 25
    ).authors == ["Nikita Drobny"]


@pytest.mark.parametrize(("hint", "language"), [("kk", "kk"), ("x" * 40_000, None), ("1.", None)])
def test_only_a_language_code_is_taken_from_the_listing(hint, language):
    assert normalize(raw(page_with_head("", ["Reform debate today."]), language=hint), NOW, 1).language == language


def test_a_date_only_value_stays_its_day_through_normalize():
    article = normalize(raw(page_with_head('<meta property="article:published_time" content="2026-11-25">')), NOW, 10)
    assert article.published_at.date_only and article.published_at.source == "meta"
    assert article.published_at.value.isoformat() == "2026-11-25T00:00:00+00:00"
    assert article.model_dump(mode="json")["published_at"]["date_only"] is True
