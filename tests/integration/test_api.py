"""The search API against the real Elasticsearch, with articles indexed by the real indexer."""

import base64
import json
import logging
import random
import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from newsflow.clients import elasticsearch_client
from newsflow.ops.demo.site import article_page
from newsflow.settings import Settings
from search.api import UNAVAILABLE, create_app
from search.index import document, entity_fields
from search.query import entity_names, entity_names_body
from tests.articles import SEED, SYNDICATED, T0, article
from tests.helpers import free_port, indexed_articles

pytestmark = pytest.mark.integration

RUSSIAN = article_page(
    "Токаев: реформа парламента потребует изменений Конституции",
    [
        "Президент Касым-Жомарт Токаев заявил, что парламентская реформа потребует изменения около сорока статей "
        "Конституции страны и принятия новых конституционных законов."
    ]
    * 2,
).decode()
KAZAKH = article_page(
    "Тоқаев парламенттік реформа туралы айтты",
    [
        "Мемлекет басшысы Қасым-Жомарт Тоқаев парламенттік реформа Конституцияның қырыққа жуық бабын "
        "өзгертуді талап ететінін айтты."
    ]
    * 2,
).decode()
ASTANA_TIMES = article_page(
    "Tokayev meets the working group",
    [
        "President Kassym-Jomart Tokayev met the members of the working group in Astana on Monday "
        "and discussed the timetable of the consultations with experts and citizens."
    ]
    * 2,
).decode()
SYLLABLES = ["ka", "mo", "ru", "ti", "sel", "dan", "or", "pu", "ven", "lo", "bri", "gat"]
WEATHER = [  # twelve distinct texts of made-up words: they share no shingles and match no real query
    article_page(
        f"Weather report {n}",
        [
            f"Weather report {n}: snow in the north. "
            + " ".join("".join(random.Random(n * 1000 + i).choices(SYLLABLES, k=3)) for i in range(60))
        ],
    ).decode()
    for n in range(12)
]


@pytest.fixture(scope="module")
def indexed(local_services: Settings):
    """A fresh alias holding the corpus, indexed through news.articles by the indexer."""
    corpus = {
        "seed": article(1, SEED, published=T0),
        "copy": article(2, SYNDICATED, source="tengri", seen=T0 + timedelta(hours=1), published=T0 + timedelta(hours=1)),
        "ru": article(3, RUSSIAN, source="tengri-ru", published=T0 + timedelta(days=1)),
        "kk": article(4, KAZAKH, source="egemen", published=T0 + timedelta(days=1)),
        "astana": article(5, ASTANA_TIMES, source="astana-times", published=T0 + timedelta(days=2)),
        **{
            f"weather-{n}": article(10 + n, page, source="kazhydromet", published=T0 + timedelta(days=3, hours=n))
            for n, page in enumerate(WEATHER)
        },
    }
    with indexed_articles(local_services, corpus.values()) as settings:
        yield settings, corpus


@pytest.fixture(scope="module")
def api(indexed):
    settings, corpus = indexed
    with TestClient(create_app(settings)) as client:
        yield client, corpus


def ids(answer: dict) -> list[str]:
    return [hit["article_id"] for hit in answer["results"]]


@contextmanager
def stored(settings: Settings, n: int, html: str, **fields):
    """An article written straight into the index with `fields` changed, as no contract allows
    any more (a document indexed before the contracts checked, say); deleted afterwards."""
    es = elasticsearch_client(settings)
    item = article(n, html, source="legacy")
    es.index(
        index=settings.index_alias,
        id=item.article_id,
        document={**document(item, None, datetime.now(UTC)), **fields},
        refresh=True,
    )
    try:
        yield item
    finally:
        es.delete(index=settings.index_alias, id=item.article_id, refresh=True)
        es.close()


def token_of(values: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


HOSTILE_URLS = [
    "javascript:document.title='pwned'",
    "JavaScript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "/relative",
]
HOSTILE_PAGE = article_page(
    "Quokka census results",
    ["The quokka census counted every quokka on the island, " * 3, "Rangers published it on Monday. " * 3],
).decode()


def test_the_seed_article_ranks_first_with_highlights(api):
    client, corpus = api
    answer = client.get("/search", params={"q": "parliamentary reform Kazakhstan"}).json()
    assert ids(answer)[0] == corpus["seed"].article_id
    first = answer["results"][0]
    assert "<mark>" in first["highlight"]["body"][0] and first["authors"] == ["Nikita Drobny"]


@pytest.mark.parametrize("name", ["Tokayev", "Токаев", "Toqayev", "Tokaev", "Тоқаев"])
def test_every_spelling_of_a_name_finds_the_others(api, name):
    client, corpus = api
    found = set(ids(client.get("/search", params={"q": name, "size": 50}).json()))
    assert {corpus[key].article_id for key in ("seed", "ru", "kk", "astana")} <= found


def test_near_duplicates_are_hidden_unless_asked_for(api):
    client, corpus = api
    hidden = ids(client.get("/search", params={"q": "parliamentary reform", "size": 50}).json())
    shown = ids(client.get("/search", params={"q": "parliamentary reform", "size": 50, "duplicates": "true"}).json())
    assert corpus["copy"].article_id not in hidden and corpus["copy"].article_id in shown


def test_hits_carry_their_story_its_size_and_its_publishers(api):
    client, corpus = api
    hits = {hit["article_id"]: hit for hit in client.get("/search", params={"size": 100, "duplicates": "true"}).json()["results"]}
    seed, copy = corpus["seed"].article_id, corpus["copy"].article_id
    assert {name: hits[seed][name] for name in ("story_id", "story_size", "story_publishers")} == {
        "story_id": seed,
        "story_size": 2,
        "story_publishers": 2,
    }
    assert hits[copy]["story_id"] == hits[copy]["duplicate_of"] == seed and hits[copy]["story_size"] == 2
    weather = hits[corpus["weather-0"].article_id]
    assert weather["story_id"] == corpus["weather-0"].article_id and weather["story_size"] == 1


def test_collapse_gives_one_hit_per_story_and_finds_a_story_through_any_of_its_articles(api):
    client, corpus = api
    collapsed = client.get("/search", params={"q": "parliamentary reform", "size": 50, "collapse": "true"}).json()
    stories = [hit["story_id"] for hit in collapsed["results"]]
    assert len(stories) == len(set(stories)) and corpus["seed"].article_id in stories
    assert collapsed["stories"] == len(stories) < collapsed["total"]  # the seed and its copy: one story, two articles
    # The copy's source alone: hidden as a duplicate, found by collapsing, with its story's size.
    assert client.get("/search", params={"source": "tengri"}).json()["results"] == []
    (copy,) = client.get("/search", params={"source": "tengri", "collapse": "true"}).json()["results"]
    assert copy["article_id"] == corpus["copy"].article_id and copy["story_size"] == 2


def test_collapsed_pages_go_through_every_story_once(api):
    client, corpus = api
    seen, token = [], None
    while True:
        params = {"size": 5, "collapse": "true", **({"search_after": token} if token else {})}
        answer = client.get("/search", params=params).json()
        seen += [hit["story_id"] for hit in answer["results"]]
        token = answer["next"]
        if not token:
            break
    assert sorted(seen) == sorted({item.article_id for name, item in corpus.items() if name != "copy"})


@pytest.mark.parametrize(("params", "token"), [({"collapse": "true"}, [0.5, 1, 2]), ({"collapse": "true"}, [0]), ({}, [5])])
def test_a_cursor_of_the_other_kind_is_422(api, params, token):
    client, _corpus = api
    assert client.get("/search", params={**params, "search_after": token_of(token)}).status_code == 422


def test_a_story_lists_its_articles_by_publisher_and_time_from_any_of_its_articles(api):
    client, corpus = api
    seed, copy = corpus["seed"], corpus["copy"]
    for asked in (seed.article_id, copy.article_id):
        story = client.get(f"/stories/{asked}").json()
        assert story["story_id"] == seed.article_id and story["size"] == 2
        assert [
            (publisher["source_id"], [item["article_id"] for item in publisher["articles"]]) for publisher in story["publishers"]
        ] == [
            ("orda-kz-en", [seed.article_id]),
            ("tengri", [copy.article_id]),
        ]
        assert story["publishers"][0]["articles"][0]["duplicate_of"] is None
    answer = client.get(f"/stories/{'f' * 64}")
    assert answer.status_code == 404 and answer.json()["detail"] == f"no story {'f' * 64}"


def test_facets_and_filters_agree(api):
    client, corpus = api
    everything = client.get("/search", params={"size": 100}).json()
    assert everything["total"] == len(corpus) - 1  # the duplicate is hidden
    sources = {bucket["value"]: bucket["count"] for bucket in everything["facets"]["sources"]}
    assert sum(sources.values()) == everything["total"] and sources["kazhydromet"] == 12
    only = client.get("/search", params={"source": "kazhydromet", "size": 100}).json()
    assert only["total"] == 12 and {hit["source_id"] for hit in only["results"]} == {"kazhydromet"}
    languages = {bucket["value"]: bucket["count"] for bucket in everything["facets"]["languages"]}
    assert languages["ru"] == 1 and languages["kk"] == 1
    days = {bucket["value"]: bucket["count"] for bucket in everything["facets"]["published_per_day"]}
    assert days["2026-11-23"] == 12 and sum(days.values()) == everything["total"]
    ranged = client.get("/search", params={"from": "2026-11-21", "to": "2026-11-22", "size": 100}).json()
    assert set(ids(ranged)) == {corpus[key].article_id for key in ("ru", "kk", "astana")}


def test_the_people_facet_lists_one_tokayev_whose_filter_finds_every_article_naming_him(api):
    client, corpus = api
    everything = client.get("/search", params={"size": 100}).json()
    assert everything["facets"]["people"] == [{"value": "ksm-jmrt-tkv", "name": "Kassym-Jomart Tokayev", "count": 4}]
    places = {bucket["value"]: (bucket["name"], bucket["count"]) for bucket in everything["facets"]["places"]}
    assert places == {"kzhstn": ("Kazakhstan", 1), "astna": ("Astana", 1)}
    him = client.get("/search", params={"person": "ksm-jmrt-tkv", "size": 100}).json()
    assert set(ids(him)) == {corpus[key].article_id for key in ("seed", "ru", "kk", "astana")}  # English, Russian, Kazakh
    (hit,) = [hit for hit in him["results"] if hit["article_id"] == corpus["kk"].article_id]
    assert hit["entities"] == [{"type": "person", "key": "ksm-jmrt-tkv", "name": "Kassym-Jomart Tokayev"}]


def test_a_key_is_named_by_its_most_common_name_among_the_articles_naming_it(indexed):
    settings, _ = indexed
    es = elasticsearch_client(settings)
    with (
        stored(settings, 95, WEATHER[0], **entity_fields([("person", "nzrbv", "Nazarbayev"), ("person", "nzr", "Nazar")])),
        stored(settings, 96, WEATHER[1], **entity_fields([("person", "nzrbv", "Назарбаев")])),
        stored(settings, 97, WEATHER[2], **entity_fields([("person", "nzrbv", "Nazarbayev")])),
    ):
        keys = {"person": ["nzrbv", "nzr", "ksm-jmrt-tkv", "nobody"], "place": ["astna"]}
        answer = es.search(index=settings.index_alias, **entity_names_body(keys)).body
    es.close()
    assert entity_names(answer, keys) == {
        ("person", "nzrbv"): "Nazarbayev",
        ("person", "nzr"): "Nazar",  # a key that begins another's takes none of its names
        ("person", "ksm-jmrt-tkv"): "Kassym-Jomart Tokayev",
        ("person", "nobody"): "nobody",
        ("place", "astna"): "Astana",
    }


def test_each_entity_asked_for_must_be_named(api):
    client, corpus = api
    both = client.get("/search", params={"person": "ksm-jmrt-tkv", "place": "astna"}).json()
    assert ids(both) == [corpus["astana"].article_id]
    assert ids(client.get("/search", params={"organization": "akrda", "q": "reform"}).json()) == [corpus["seed"].article_id]
    assert client.get("/search", params={"person": ["ksm-jmrt-tkv", "nobody"]}).json()["total"] == 0


def test_a_place_filter_finds_it_in_every_script(api, indexed):
    client, _corpus = api
    settings, _ = indexed
    russian = article_page(
        "Снег в Алматы", ["В Алматы выпал первый снег, сообщили синоптики города в понедельник утром. " * 3]
    ).decode()
    english = article_page(
        "Snow in Almaty", ["The first snow of the winter fell in Almaty on Monday morning, forecasters said. " * 3]
    ).decode()
    with stored(settings, 93, russian) as in_russian, stored(settings, 94, english) as in_english:
        found = client.get("/search", params={"place": "almti"}).json()
        assert set(ids(found)) == {in_russian.article_id, in_english.article_id}
        (bucket,) = [bucket for bucket in found["facets"]["places"] if bucket["value"] == "almti"]
        assert bucket == {"value": "almti", "name": "Almaty", "count": 2}


@pytest.mark.parametrize("sort", ["relevance", "date"])
def test_search_after_pages_through_everything_once(api, sort):
    client, _corpus = api
    params = {"size": 5, "sort": sort, "q": "weather OR snow OR Tokayev OR reform"}
    seen, pages, token = [], 0, None
    while True:
        answer = client.get("/search", params={**params, **({"search_after": token} if token else {})}).json()
        seen += ids(answer)
        pages += 1
        token = answer["next"]
        if not token:
            break
    assert len(seen) == len(set(seen)) == answer["total"]
    if sort == "date":
        dates = [hit["published_at"] for hit in client.get("/search", params={**params, "size": 100}).json()["results"]]
        assert dates == sorted(dates, reverse=True)


def test_an_article_is_served_whole_and_a_missing_one_is_404(api):
    client, corpus = api
    seed = client.get(f"/articles/{corpus['seed'].article_id}").json()
    assert seed["title"] == corpus["seed"].title and seed["body"] == corpus["seed"].body
    missing = client.get("/articles/nothing-here")
    assert missing.status_code == 404 and missing.json() == {"detail": "no article nothing-here"}


@pytest.mark.parametrize(
    "params",
    [
        {"size": 1000},
        {"size": 0},
        {"sort": "popularity"},
        {"q": "x" * 501},
        {"from": "yesterday"},
        {"search_after": "not-a-token"},
        {"q": "|".join(f"w{n}ab~2" for n in range(60))},  # the outside review's: 19.5 s on 5,000 articles
        {"q": "a* b* c* d* e* f*"},
    ],
)
def test_bad_parameters_are_422_with_a_message(api, params):
    client, _ = api
    answer = client.get("/search", params=params)
    assert answer.status_code == 422 and answer.json()["detail"]


@pytest.mark.parametrize(
    ("sort", "values"),
    [
        ("relevance", [1]),
        ("relevance", [1.5, 1763625600000, 7, 8]),
        ("relevance", [True, False, True]),
        ("relevance", ["high", 1763625600000, 7]),
        ("relevance", [1.5, 1763625600000.5, 7]),
        ("relevance", [1.5, 1763625600000, 2**63]),
        ("date", [None, 1763625600000, 7]),
        ("date", [1.5, 1763625600000, 7]),
    ],
)
def test_a_cursor_that_does_not_fit_the_sort_is_422(api, sort, values):
    client, _ = api
    answer = client.get("/search", params={"sort": sort, "search_after": token_of(values)})
    assert answer.status_code == 422
    assert answer.json()["detail"].startswith("search_after is not a token this API handed out")


@pytest.mark.parametrize("number", ["NaN", "Infinity", "1e400"])
def test_a_cursor_with_a_number_that_is_not_finite_is_422(api, number):
    client, _ = api
    token = base64.urlsafe_b64encode(f"[{number}, 1763625600000, 7]".encode()).decode().rstrip("=")
    answer = client.get("/search", params={"search_after": token})
    assert answer.status_code == 422 and answer.json()["detail"]


def test_a_search_elasticsearch_refuses_is_422_with_its_reason(api, monkeypatch):
    # A cursor of the wrong length, sent past search_body's check: Elasticsearch answers 400.
    import search.api
    from search.query import search_body

    client, _ = api
    monkeypatch.setattr(search.api, "search_body", lambda request: {**search_body(request), "search_after": [1]})
    answer = client.get("/search", params={"q": "reform"})
    assert answer.status_code == 422
    assert answer.json() == {"detail": "Elasticsearch refused this search: search_after has 1 value(s) but sort has 3."}


def test_five_fuzzy_and_prefix_operators_are_searched(api):
    client, corpus = api
    answer = client.get("/search", params={"q": "Toqaev~1 parliament* reform~ Constitution~1 Kazakh*"})
    assert answer.status_code == 200 and ids(answer.json()) == [corpus["seed"].article_id]
    assert "<mark>" in answer.json()["results"][0]["highlight"]["body"][0]  # the prefixes and plain words are marked


def test_an_article_too_long_to_highlight_whole_is_found_and_highlighted(api, indexed):
    # Past index.highlight.max_analyzed_offset (1,000,000 characters) Elasticsearch refused the whole search.
    client, _ = api
    settings, _ = indexed
    body = "The wombat survey opened the season. " + "Nothing else happened on the plain that day. " * 25_000
    with stored(settings, 90, HOSTILE_PAGE, body=body) as long:
        answer = client.get("/search", params={"q": "wombat"})
        assert answer.status_code == 200 and ids(answer.json()) == [long.article_id]
        assert answer.json()["results"][0]["highlight"]["body"][0].startswith("The <mark>wombat</mark> survey opened the season.")


@pytest.mark.parametrize("url", HOSTILE_URLS)
def test_a_url_that_is_not_http_is_no_link_in_the_answer(api, indexed, url):
    client, _ = api
    settings, _ = indexed
    with stored(settings, 91, HOSTILE_PAGE, url=url) as hostile:
        (hit,) = client.get("/search", params={"q": "quokka census"}).json()["results"]
        assert hit["article_id"] == hostile.article_id and hit["url"] is None


PAGES = ["/", "/docs", "/static/app.js", "/swagger-ui/swagger-ui-bundle.js", "/search?q=reform", "/openapi.json", "/nothing"]


@pytest.mark.parametrize("path", PAGES)
def test_every_answer_carries_the_security_headers(api, path):
    client, _ = api
    headers = client.get(path).headers
    policy = dict(directive.strip().split(" ", 1) for directive in headers["content-security-policy"].split(";"))
    assert policy["script-src"] == "'self'" and policy["frame-ancestors"] == "'none'" and policy["default-src"] == "'none'"
    assert "unsafe-inline" not in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "no-referrer"


def test_the_docs_page_loads_nothing_from_another_origin(api):
    from html.parser import HTMLParser

    class Assets(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.found: list[str] = []

        def handle_starttag(self, tag, attrs):
            self.found += [value for name, value in attrs if name in ("src", "href") and value]

    client, _ = api
    page = client.get("/docs")
    assert page.status_code == 200 and "<script>" not in page.text  # no inline script
    parser = Assets()
    parser.feed(page.text)
    assert parser.found and all(asset.startswith("/") and not asset.startswith("//") for asset in parser.found)
    for asset in parser.found:
        assert client.get(asset).status_code == 200, asset


def test_health_metrics_and_openapi(api):
    client, _ = api
    assert client.get("/health").json()["status"] == "ok"
    client.get("/search")
    assert 'newsflow_api_request_seconds_count{route="/search",status="200"}' in client.get("/metrics").text
    assert "/search" in client.get("/openapi.json").json()["paths"]
    assert "<title>newsflow search</title>" in client.get("/").text


def test_an_unavailable_elasticsearch_is_a_generic_503_and_the_log_names_it(local_services, caplog):
    port = free_port()
    settings = Settings(elasticsearch_url=f"http://reader:s3cret@127.0.0.1:{port}", state_dir=local_services.state_dir)
    with TestClient(create_app(settings)) as client, caplog.at_level(logging.WARNING, logger="search.api"):
        answer = client.get("/search", params={"q": "reform"})
        assert answer.status_code == 503
        assert answer.json() == {"detail": UNAVAILABLE} == {"detail": "Elasticsearch is unavailable; try again shortly"}
        assert client.get("/health").status_code == 503
    assert f"127.0.0.1:{port}" in caplog.text and "s3cret" not in caplog.text


CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,900",
    "--lang=en-US",  # date inputs take what is typed in the locale's order: month, day, year
]


@pytest.fixture(scope="module")
def served(indexed, tmp_path_factory):
    """The API on a free port of 127.0.0.1, in a thread, and a headless Chromium to look at it."""
    import threading

    import uvicorn
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    settings, corpus = indexed
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        thread.join(0.05)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # the console, where CSP violations show
    for flag in [*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path_factory.mktemp('chromium')}"]:
        options.add_argument(flag)
    browser = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield browser, f"http://127.0.0.1:{port}/", corpus
    browser.quit()
    server.should_exit = True
    thread.join(10)


def test_the_page_searches_highlights_and_filters_by_source(served):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as shown
    from selenium.webdriver.support.ui import WebDriverWait

    browser, url, corpus = served
    wait = WebDriverWait(browser, 20)
    browser.get(url)
    wait.until(shown.text_to_be_present_in_element((By.ID, "summary"), "articles"))
    query = browser.find_element(By.ID, "q")
    assert browser.switch_to.active_element == query  # the box has the focus: type at once

    query.send_keys("parliamentary reform Kazakhstan", Keys.ENTER)
    wait.until(shown.text_to_be_present_in_element((By.ID, "summary"), "for “parliamentary reform Kazakhstan”"))
    first = browser.find_element(By.CSS_SELECTOR, "#results li")
    assert first.find_element(By.CSS_SELECTOR, ".title").get_attribute("href") == corpus["seed"].url
    assert first.find_elements(By.CSS_SELECTOR, ".snippet mark")

    query.clear()
    query.send_keys("Tokayev", Keys.ENTER)
    wait.until(shown.text_to_be_present_in_element((By.ID, "summary"), "4 articles for “Tokayev”"))  # 4 sources
    browser.find_element(By.CSS_SELECTOR, "#facet-sources input[value='egemen']").click()
    wait.until(shown.text_to_be_present_in_element((By.ID, "summary"), "1 article for “Tokayev”"))
    (only,) = browser.find_elements(By.CSS_SELECTOR, "#results li")
    assert only.find_element(By.CSS_SELECTOR, ".title").get_attribute("href") == corpus["kk"].url
    assert only.find_element(By.CSS_SELECTOR, ".meta").text.endswith("· kk")


def test_the_page_shows_a_url_that_is_not_http_as_plain_text(served, indexed):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as shown
    from selenium.webdriver.support.ui import WebDriverWait

    browser, url, _ = served
    settings, _ = indexed
    wait = WebDriverWait(browser, 20)
    browser.get(url)
    wait.until(shown.text_to_be_present_in_element((By.ID, "summary"), "articles"))
    with stored(settings, 92, HOSTILE_PAGE, url=HOSTILE_URLS[0]):
        query = browser.find_element(By.ID, "q")
        query.clear()
        query.send_keys("quokka census", Keys.ENTER)
        wait.until(shown.text_to_be_present_in_element((By.ID, "summary"), "1 article for “quokka census”"))
        (title,) = browser.find_elements(By.CSS_SELECTOR, "#results li .title")
        assert title.tag_name == "span" and title.get_attribute("href") is None and "Quokka" in title.text
        assert browser.find_elements(By.CSS_SELECTOR, "#results a") == []

    # The page's own check, whatever the API hands it: what result() makes of each URL.
    made = browser.execute_script(
        """return arguments[0].map((url) => {
             const title = result({url, title: "t", highlight: {}, authors: [], lead: "", entities: []}).querySelector(".title");
             return [title.tagName, title.getAttribute("href")];
           });""",
        [*HOSTILE_URLS, " java\tscript:alert(1)", None, "https://orda.kz/news/1", "HTTP://Orda.kz/a b"],
    )
    assert made == [["SPAN", None]] * (len(HOSTILE_URLS) + 2) + [["A", "https://orda.kz/news/1"], ["A", "http://orda.kz/a%20b"]]


def page_errors(browser) -> list[str]:
    """What the console has had since the last look: Content Security Policy violations and uncaught errors."""
    return [
        entry["message"]
        for entry in browser.get_log("browser")
        if "Content Security Policy" in entry["message"] or "Uncaught" in entry["message"]
    ]


@pytest.fixture
def page(served):
    """The browser with its console read empty, a wait for what it shows, the page's address and the corpus."""
    from selenium.webdriver.support.ui import WebDriverWait

    browser, url, corpus = served
    browser.get_log("browser")  # what earlier tests left
    return browser, WebDriverWait(browser, 20), url, corpus


def summary_is(text: str):
    """A wait condition: the page's summary reads `text`, once the search it describes has been shown."""
    from selenium.webdriver.common.by import By

    return lambda browser: browser.find_element(By.ID, "summary").text == text


def address_is(address: str):
    return lambda browser: browser.current_url == address


def result_links(browser) -> list[str]:
    from selenium.webdriver.common.by import By

    return [title.get_attribute("href") for title in browser.find_elements(By.CSS_SELECTOR, "#results li .title")]


def test_a_url_restores_the_form_and_runs_its_search(page):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as shown

    browser, wait, url, corpus = page
    # from=yesterday is nothing a date input can hold: dropped, from the address too.
    browser.get(url + "?q=Tokayev&source=egemen&from=yesterday&sort=date&duplicates=true")
    wait.until(summary_is("1 article for “Tokayev”"))
    assert result_links(browser) == [corpus["kk"].url]
    assert browser.find_element(By.ID, "q").get_attribute("value") == "Tokayev"
    assert browser.find_element(By.CSS_SELECTOR, "#facet-sources input[value='egemen']").is_selected()
    assert browser.find_element(By.ID, "sort").get_attribute("value") == "date"
    assert browser.find_element(By.ID, "duplicates").is_selected()
    assert browser.find_element(By.ID, "from").get_attribute("value") == ""
    assert browser.current_url == url + "?q=Tokayev&source=egemen&sort=date&duplicates=true"
    assert browser.title == "Tokayev — newsflow search"

    # A chosen source that nothing found stays listed, without a count, so that it can be taken back.
    browser.get(url + "?q=Tokayev&source=kazhydromet&sort=popularity")
    wait.until(summary_is("0 articles for “Tokayev”"))
    assert browser.current_url == url + "?q=Tokayev&source=kazhydromet"  # no such sort: the API's default
    assert browser.find_element(By.ID, "sort").get_attribute("value") == "relevance"
    (source,) = browser.find_elements(By.CSS_SELECTOR, "#facet-sources label")
    assert source.text == "kazhydromet"
    source.click()
    wait.until(summary_is("4 articles for “Tokayev”"))
    assert browser.current_url == url + "?q=Tokayev"

    # A search the API refuses: its message, no results, and the chosen filters still there to change.
    browser.get(url + "?q=a*+b*+c*+d*+e*+f*&source=egemen")
    wait.until(shown.text_to_be_present_in_element((By.ID, "summary"), "at most 5 fuzzy (~) and prefix (*) operators"))
    assert result_links(browser) == [] and not browser.find_element(By.ID, "more").is_displayed()
    assert browser.find_element(By.CSS_SELECTOR, "#facet-sources input[value='egemen']").is_selected()
    assert page_errors(browser) == []


def test_searches_go_into_the_url_and_back_and_forward_restore_them(page):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    browser, wait, url, corpus = page
    browser.get(url)
    wait.until(summary_is(f"{len(corpus) - 1} articles"))  # the duplicate is hidden
    query = browser.find_element(By.ID, "q")
    query.send_keys("Tokayev", Keys.ENTER)
    wait.until(address_is(url + "?q=Tokayev"))
    wait.until(summary_is("4 articles for “Tokayev”"))
    browser.find_element(By.CSS_SELECTOR, "#facet-sources input[value='egemen']").click()
    wait.until(address_is(url + "?q=Tokayev&source=egemen"))
    Select(browser.find_element(By.ID, "sort")).select_by_value("date")
    wait.until(address_is(url + "?q=Tokayev&source=egemen&sort=date"))
    entries = browser.execute_script("return history.length")
    query.send_keys(Keys.ENTER)  # the same search again: no entry of its own
    wait.until(summary_is("1 article for “Tokayev”"))
    assert browser.execute_script("return history.length") == entries

    browser.back()
    wait.until(address_is(url + "?q=Tokayev&source=egemen"))
    wait.until(summary_is("1 article for “Tokayev”"))
    assert browser.find_element(By.ID, "sort").get_attribute("value") == "relevance"
    browser.back()
    wait.until(summary_is("4 articles for “Tokayev”"))
    assert not browser.find_element(By.CSS_SELECTOR, "#facet-sources input[value='egemen']").is_selected()
    browser.back()
    wait.until(summary_is(f"{len(corpus) - 1} articles"))
    assert browser.current_url == url and query.get_attribute("value") == ""
    assert browser.title == "newsflow search"
    browser.forward()
    wait.until(summary_is("4 articles for “Tokayev”"))
    assert query.get_attribute("value") == "Tokayev"
    browser.forward()
    wait.until(summary_is("1 article for “Tokayev”"))
    assert result_links(browser) == [corpus["kk"].url]
    assert browser.find_element(By.CSS_SELECTOR, "#facet-sources input[value='egemen']").is_selected()
    assert page_errors(browser) == []


def test_the_date_range_filters_and_a_day_of_the_facet_sets_it(page):
    from selenium.webdriver.common.by import By

    browser, wait, url, corpus = page
    browser.get(url)
    wait.until(summary_is(f"{len(corpus) - 1} articles"))
    entries = browser.execute_script("return history.length")
    for key in "11212026":  # as a person types: the page searches once, not for each year 0002, 0020, 0202
        browser.find_element(By.ID, "from").send_keys(key)
        time.sleep(0.1)
    wait.until(address_is(url + "?from=2026-11-21"))
    wait.until(summary_is(f"{len(corpus) - 2} articles"))  # neither the seed nor its copy
    assert browser.execute_script("return history.length") == entries + 1  # one entry, not one per digit
    browser.find_element(By.ID, "to").send_keys("11222026")
    wait.until(address_is(url + "?from=2026-11-21&to=2026-11-22"))
    wait.until(summary_is("3 articles"))
    assert set(result_links(browser)) == {corpus[key].url for key in ("ru", "kk", "astana")}

    days = {day.text: day for day in browser.find_elements(By.CSS_SELECTOR, "#facet-days .filter-button")}
    assert set(days) == {"2026-11-21", "2026-11-22"}
    days["2026-11-22"].click()
    wait.until(address_is(url + "?from=2026-11-22&to=2026-11-22"))
    wait.until(summary_is("1 article"))
    assert result_links(browser) == [corpus["astana"].url]
    assert browser.find_element(By.ID, "to").get_attribute("value") == "2026-11-22"

    browser.find_element(By.ID, "any-date").click()
    wait.until(address_is(url))
    wait.until(summary_is(f"{len(corpus) - 1} articles"))
    assert not browser.find_element(By.ID, "any-date").is_displayed()
    browser.back()
    wait.until(summary_is("1 article"))
    assert browser.find_element(By.ID, "from").get_attribute("value") == "2026-11-22"
    assert page_errors(browser) == []


def test_more_results_an_author_and_the_scroll_position_survive_back_and_reload(page):
    from selenium.webdriver.common.by import By

    browser, wait, url, corpus = page
    everything = len(corpus) - 1
    browser.get(url + "?sort=date")
    wait.until(summary_is(f"{everything} articles"))
    browser.find_element(By.ID, "more").click()
    wait.until(address_is(url + "?sort=date&pages=2"))
    assert len(result_links(browser)) == everything and not browser.find_element(By.ID, "more").is_displayed()

    # The seed, the oldest article, is the last; its author, at the foot of the page, filters by her.
    bottom = browser.execute_script("window.scrollTo(0, document.body.scrollHeight); return window.scrollY")
    assert bottom > 0
    wait.until(lambda browser: browser.execute_script("return history.state && history.state.scroll") == bottom)
    author = browser.find_element(By.CSS_SELECTOR, "#results li:last-child .meta .filter-button")
    assert author.text == "Nikita Drobny"
    author.click()
    wait.until(address_is(url + "?author=Nikita+Drobny&sort=date"))
    wait.until(summary_is("1 article"))
    assert browser.find_element(By.CSS_SELECTOR, "#facet-authors input[value='Nikita Drobny']").is_selected()

    browser.back()
    wait.until(summary_is(f"{everything} articles"))
    assert len(result_links(browser)) == everything
    wait.until(lambda browser: browser.execute_script("return window.scrollY") == bottom)
    assert not browser.find_element(By.CSS_SELECTOR, "#facet-authors").is_displayed()
    browser.refresh()
    wait.until(summary_is(f"{everything} articles"))
    assert browser.current_url == url + "?sort=date&pages=2" and len(result_links(browser)) == everything
    wait.until(lambda browser: browser.execute_script("return window.scrollY") == bottom)

    browser.forward()
    wait.until(summary_is("1 article"))
    browser.find_element(By.CSS_SELECTOR, "#facet-authors input[value='Nikita Drobny']").click()  # taken back
    wait.until(address_is(url + "?sort=date"))
    wait.until(summary_is(f"{everything} articles"))
    assert page_errors(browser) == []


def test_entity_chips_and_facets_filter_the_search_and_live_in_the_url(page):
    from selenium.webdriver.common.by import By

    browser, wait, url, corpus = page
    browser.get(url + "?q=Tokayev")
    wait.until(summary_is("4 articles for “Tokayev”"))
    people = browser.find_element(By.ID, "facet-people")
    assert people.is_displayed() and people.text == "Kassym-Jomart Tokayev (4)"
    chip = browser.find_element(By.CSS_SELECTOR, "#results li .chip.place[data-key='astna']")
    assert chip.text == "Astana" and chip.get_attribute("title") == "Only articles naming Astana"
    chip.click()
    wait.until(address_is(url + "?q=Tokayev&place=astna"))
    wait.until(summary_is("1 article for “Tokayev”"))
    assert result_links(browser) == [corpus["astana"].url]
    box = browser.find_element(By.CSS_SELECTOR, "#facet-places input[value='astna']")
    assert box.is_selected() and box.find_element(By.XPATH, "..").text == "Astana (1)"
    box.click()  # taken back
    wait.until(address_is(url + "?q=Tokayev"))
    wait.until(summary_is("4 articles for “Tokayev”"))

    # A URL with a person restores the filter; a key no facet lists any more is shown as it is, to be taken back.
    browser.get(url + "?person=ksm-jmrt-tkv&person=nobody")
    wait.until(summary_is("0 articles"))
    labels = [label.text for label in browser.find_elements(By.CSS_SELECTOR, "#facet-people label")]
    assert sorted(labels) == ["ksm-jmrt-tkv", "nobody"]
    browser.find_element(By.CSS_SELECTOR, "#facet-people input[value='nobody']").click()
    wait.until(address_is(url + "?person=ksm-jmrt-tkv"))
    wait.until(summary_is("4 articles"))
    assert browser.find_element(By.CSS_SELECTOR, "#facet-people input[value='ksm-jmrt-tkv']").is_selected()
    assert browser.find_element(By.ID, "facet-people").text == "Kassym-Jomart Tokayev (4)"
    assert page_errors(browser) == []


def test_a_result_links_to_its_story_from_other_publishers_and_back_returns_to_the_search(page):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    browser, wait, url, corpus = page
    seed, copy = corpus["seed"], corpus["copy"]
    browser.get(url + "?q=parliamentary+reform+Kazakhstan")
    wait.until(summary_is("1 article for “parliamentary reform Kazakhstan”"))
    first = browser.find_element(By.CSS_SELECTOR, "#results > li")
    assert browser.find_elements(By.CSS_SELECTOR, "#results > li .story a") == [first.find_element(By.CSS_SELECTOR, ".story a")]
    link = first.find_element(By.CSS_SELECTOR, ".story a")
    assert link.text == "1 more from other publishers"
    link.click()
    wait.until(address_is(url + f"?story={seed.article_id}"))
    wait.until(summary_is("Story: 2 articles from 2 publishers"))
    publishers = [name.text for name in browser.find_elements(By.CSS_SELECTOR, "#results .publisher h2")]
    assert publishers == [f"{seed.site_name} · orda-kz-en", f"{copy.site_name} · tengri"]
    assert result_links(browser) == [seed.url, copy.url]
    assert browser.find_element(By.CSS_SELECTOR, "#results .publisher .meta").text.endswith("· first report")
    assert browser.title == "Story — newsflow search"

    browser.back()
    wait.until(summary_is("1 article for “parliamentary reform Kazakhstan”"))
    browser.forward()
    wait.until(summary_is("Story: 2 articles from 2 publishers"))
    browser.refresh()  # the story lives in the URL
    wait.until(summary_is("Story: 2 articles from 2 publishers"))
    browser.find_element(By.ID, "q").send_keys("Tokayev", Keys.ENTER)  # a search from the story's page
    wait.until(address_is(url + "?q=Tokayev"))
    wait.until(summary_is("4 articles for “Tokayev”"))
    browser.get(url + f"?story={'f' * 64}")
    wait.until(summary_is(f"no story {'f' * 64}"))
    assert page_errors(browser) == []


def test_the_page_and_the_docs_run_under_the_content_security_policy(served):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as shown
    from selenium.webdriver.support.ui import WebDriverWait

    browser, url, _ = served
    wait = WebDriverWait(browser, 20)
    browser.get_log("browser")  # what earlier tests left
    browser.get(url + "docs")
    wait.until(shown.text_to_be_present_in_element((By.CSS_SELECTOR, ".swagger-ui .info .title"), "newsflow search"))
    assert browser.find_elements(By.CSS_SELECTOR, ".swagger-ui .opblock-summary-path[data-path='/search']")
    browser.get(url)
    wait.until(shown.text_to_be_present_in_element((By.ID, "summary"), "articles"))
    assert page_errors(browser) == []
