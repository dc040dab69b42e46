"""What `extract` returns for small pages in the conventions news sites use for bylines and dates.

The refusal of non-articles, the choice among dates and language detection are normalize's, and
tested in test_normalize.py.
"""

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from newsflow.ops.demo.site import seed_article, seed_article_page
from transform.extraction import PageDate, extract

URL = "https://orda.kz/en/news/reform-debate"
ENGLISH = [
    "The parliament of Kazakhstan debated the constitutional reform for a second day on Thursday, "
    "with deputies proposing changes to forty articles of the fundamental law.",
    "The working group will publish its proposals next month after a public discussion, "
    "the speaker of the lower chamber told reporters in Astana.",
    "Several deputies asked for more time to study the draft before the vote, which is now expected early next year.",
]
RUSSIAN = [
    "Парламент Казахстана второй день обсуждал конституционную реформу: депутаты предложили изменить "
    "около сорока статей основного закона.",
    "Рабочая группа опубликует свои предложения в следующем месяце после общественного обсуждения.",
    "Несколько депутатов попросили больше времени на изучение проекта до голосования.",
]


def news_page(
    head: str = "",
    before: str = "",
    after: str = "",
    paragraphs: list[str] = ENGLISH,
    headline: str = "Reform debate",
    lang: str = "en",
) -> str:
    """A news page: navigation, the article (headline, what comes before and after its paragraphs), a footer."""
    body = "\n".join(f"<p>{paragraph}</p>" for paragraph in paragraphs)
    return f"""<!DOCTYPE html>
<html lang="{lang}"><head><meta charset="utf-8"><title>{headline} | Orda.kz</title>{head}</head>
<body><nav><a href="/">Home</a> <a href="/politics">Politics</a> <a href="/economy">Economy</a></nav>
<article><h1>{headline}</h1>
{before}
{body}
{after}
</article><footer>© Orda.kz, 2026</footer></body></html>"""


def test_the_seed_pagegives_its_title_author_and_exactly_its_paragraphs():
    title, paragraphs, author, latest = seed_article()
    page = extract(seed_article_page().decode(), URL)
    assert page.title == title == "Toqayev: Parliamentary Reform Will Require Major Constitutional Changes"
    assert page.authors == [author] == ["Nikita Drobny"]
    assert page.body.split("\n") == paragraphs
    assert not any(headline in page.body for headline in latest) and "Latest news" not in page.body
    assert "Original Author" not in page.body


def test_json_ld_news_article_gives_headline_author_objects_and_date():
    data = {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "headline": "Deputies debate the reform",
        "datePublished": "2026-03-14T09:30:00+05:00",
        "author": [{"@type": "Person", "name": "Aigerim Sadykova"}, {"@type": "Person", "name": "Nikita Drobny"}],
    }
    page = extract(news_page(head=f'<script type="application/ld+json">{json.dumps(data)}</script>'), URL)
    assert page.title == "Deputies debate the reform"
    assert page.authors == ["Aigerim Sadykova", "Nikita Drobny"]
    assert page.published[0] == PageDate(datetime(2026, 3, 14, 4, 30, tzinfo=UTC), "json-ld")
    assert page.body.split("\n") == ENGLISH


def test_meta_published_time_and_a_by_line_naming_two_authors():
    html = news_page(
        head='<meta property="article:published_time" content="2026-03-14T08:00:00Z">',
        before="<p>By Aigerim Sadykova and Nikita Drobny</p>",
    )
    page = extract(html, URL)
    assert page.authors == ["Aigerim Sadykova", "Nikita Drobny"]
    assert page.published[0] == PageDate(datetime(2026, 3, 14, 8, 0, tzinfo=UTC), "meta")
    assert page.body.split("\n") == ENGLISH


def test_a_russian_byline_becomes_the_author_and_leaves_the_body():
    page = extract(
        news_page(paragraphs=RUSSIAN, after="<p>Автор: Иван Петров</p>", headline="Депутаты обсудили реформу", lang="ru"),
        "https://orda.kz/ru/news/reform",
    )
    assert page.title == "Депутаты обсудили реформу"
    assert page.authors == ["Иван Петров"]
    assert page.body.split("\n") == RUSSIAN


def test_a_date_only_in_the_url():
    page = extract(news_page(), "https://orda.kz/en/2026/03/14/reform-debate")
    assert page.published == [PageDate(datetime(2026, 3, 14, tzinfo=UTC), "url", date_only=True)]


def test_a_date_only_in_a_time_element():
    page = extract(news_page(before='<p><time datetime="2026-03-14T08:00:00+05:00">14 March 2026</time></p>'), URL)
    assert page.published == [PageDate(datetime(2026, 3, 14, tzinfo=UTC), "htmldate", date_only=True)]
    assert page.body.split("\n") == ENGLISH


def test_an_author_only_in_meta_name_author():
    page = extract(news_page(head='<meta name="author" content="Aigerim Sadykova">'), URL)
    assert page.authors == ["Aigerim Sadykova"]
    assert page.published == []


def test_related_links_and_a_share_bar_stay_out_of_the_body():
    related_line = '<p>Related: <a href="/news/1">Senate to be abolished under the new constitution</a></p>'
    related_list = (
        "<ul>"
        + "".join(
            f'<li><a href="/news/{i}">{headline}</a></li>'
            for i, headline in enumerate(
                ["What the unicameral parliament means for voters", "Toqayev meets the working group for the first time"]
            )
        )
        + "</ul>"
    )
    share_bar = (
        '<div class="share"><a href="https://facebook.com/sharer">Share on Facebook</a> '
        '<a href="https://twitter.com/intent/tweet">Share on Twitter</a> <a href="mailto:?">Send by email</a></div>'
    )
    paragraphs = [f"<p>{paragraph}</p>" for paragraph in ENGLISH]
    html = news_page(paragraphs=[], before=paragraphs[0] + related_line + "".join(paragraphs[1:]), after=related_list + share_bar)
    assert extract(html, URL).body.split("\n") == ENGLISH


def test_the_headline_is_the_title_not_the_first_line_of_the_body():
    page = extract(news_page(headline="Parliament debates forty amendments to the constitution"), URL)
    assert page.title == "Parliament debates forty amendments to the constitution"
    assert page.body.split("\n") == ENGLISH


def test_text_after_an_html_comment_is_kept():
    split_by_comment = ENGLISH[0].replace(" for a second day", "<!-- --> for a second day")
    assert extract(news_page(paragraphs=[split_by_comment, *ENGLISH[1:]]), URL).body.split("\n") == ENGLISH


def test_a_reprint_notice_and_a_share_line_stay_out_of_the_body():
    notice = "<p>This copy is for your personal, non-commercial use only. To order presentation-ready copies, visit our site.</p>"
    page = extract(
        news_page(before=notice + "<p>Share this article</p>", after="<p>© 2026 Orda.kz. All rights reserved.</p>"), URL
    )
    assert page.body.split("\n") == ENGLISH


def test_a_time_near_midnight_keeps_the_pages_day_and_offset():
    page = extract(news_page(head='<meta property="article:published_time" content="2025-01-14T01:28:54+09:00">'), URL)
    published = page.published[0]
    assert published.value.date().isoformat() == "2025-01-14"  # in UTC it is the 13th
    assert published.value.utcoffset() == timedelta(hours=9) and not published.date_only


def test_a_day_is_midnight_in_the_zone_of_the_pages_other_dates():
    head = (
        '<meta property="article:published_time" content="2025-01-14">'
        '<meta property="article:modified_time" content="2025-01-14T18:00:00+09:00">'
    )
    published = extract(news_page(head=head), URL).published[0]
    assert published == PageDate(datetime(2025, 1, 14, tzinfo=timezone(timedelta(hours=9))), "meta", date_only=True)
    assert published.value.isoformat() == "2025-01-14T00:00:00+09:00"


def test_a_page_without_a_date_has_none():
    assert extract(news_page(), URL).published == []


def ld_json(data: object) -> str:
    return f'<script type="application/ld+json">{json.dumps(data)}</script>'


def test_authors_of_the_pages_own_article_not_of_a_related_one_nor_the_publisher():
    own = {"@type": "NewsArticle", "headline": "Reform debate", "author": [{"@type": "Organization", "name": "Orda.kz"}]}
    related = {"@type": "NewsArticle", "headline": "Another story", "author": {"@type": "Person", "name": "Someone Else"}}
    head = ld_json({"@context": "https://schema.org", "@graph": [own, related]})
    head += '<meta name="author" content="Orda.kz"><meta property="og:site_name" content="Orda.kz">'
    page = extract(news_page(head=head, before='<p>By <a rel="author" href="/authors/sadykova">Aigerim Sadykova</a></p>'), URL)
    # the own article names an organisation, the related one is another article's: neither; the meta
    # author is the site; the link to the author's page names her
    assert page.authors == ["Aigerim Sadykova"]


def test_an_author_list_in_one_string_is_split_and_desk_handles_dropped():
    data = {"@type": "NewsArticle", "author": {"@type": "Person", "name": "Mamokete Modiba, Claire Benit-Gbaffou and Tanya Zack"}}
    assert extract(news_page(head=ld_json(data)), URL).authors == ["Mamokete Modiba", "Claire Benit-Gbaffou", "Tanya Zack"]
    page = extract(news_page(head='<meta name="author" content="Corina Gall (cog.); David Vonplon (dvp)">'), URL)
    assert page.authors == ["Corina Gall", "David Vonplon"]


def test_soft_hyphens_and_zero_width_spaces_leave_the_words_whole():
    hyphenated = ENGLISH[0].replace("constitutional", "consti\u00adtutional").replace("fundamental", "funda\u200bmental")
    assert extract(news_page(paragraphs=[hyphenated, *ENGLISH[1:]]), URL).body.split("\n") == ENGLISH


@pytest.mark.parametrize(
    "elsewhere",
    [
        '<aside><a href="/news/other">Another story</a> <time datetime="2025-05-01">1 May</time></aside>',  # a related article's
        "<footer>Page generated on 2025-06-01 10:00</footer>",
        '<meta http-equiv="last-modified" content="2025-01-01">',  # a modification, not the publication
    ],
)
def test_no_publication_date_is_taken_from_what_dates_something_else(elsewhere):
    html = news_page(head=elsewhere) if elsewhere.startswith("<meta") else news_page(after=elsewhere)
    assert extract(html, URL).published == []
