"""Search that understands language, on the demo's sample news indexed by the real indexer, through the API:
inflected English, Russian and Kazakh forms find their articles, a name in any spelling finds the others, and the
highlights mark every way an article matched."""

from contextlib import suppress

import pytest
from fastapi.testclient import TestClient

from newsflow.errors import Rejected
from newsflow.ops.demo.site import SampleSite
from newsflow.settings import Settings
from search.api import create_app
from tests.articles import article
from tests.helpers import indexed_articles

pytestmark = pytest.mark.integration

SEED = "orda/toqayev-parliamentary-reform"
RUSSIAN_REFORM = "steppe-times/tokaev-reforma-parlamenta-predlozheniya"
RUSSIAN_CASPIAN = "steppe-times/kaspiy-obmelenie-aktau"
KAZAKH_HARVEST = "qazaq-wire/qostanay-astyq-zhinau-ayaqtaldy"


@pytest.fixture(scope="module")
def demo(local_services: Settings):
    """The API over the demo's sample news (its syndicated copy marked a duplicate by the indexer), and the
    article ids by publisher/slug."""
    with SampleSite(0) as site:
        pages = [(sample, site.routes[site.path(sample)].body.decode()) for sample in site.news.articles if not sample.broken]
    articles = {}
    for n, (sample, html) in enumerate(pages, start=1):
        with suppress(Rejected):  # the live-updates page, whose text a script would load
            articles[f"{sample.publisher}/{sample.slug}"] = article(n, html, source=sample.publisher, published=sample.published)
    with indexed_articles(local_services, articles.values()) as settings, TestClient(create_app(settings)) as client:
        yield client, {name: item.article_id for name, item in articles.items()}


def search(client: TestClient, q: str) -> list[dict]:
    answer = client.get("/search", params={"q": q})
    assert answer.status_code == 200, answer.text
    return answer.json()["results"]


@pytest.mark.parametrize("q", ["reforms", "amendment", "parliaments"])  # the seed says reform, amendments, parliament
def test_an_inflected_english_word_puts_the_seed_first(demo, q):
    client, ids = demo
    assert search(client, q)[0]["article_id"] == ids[SEED]


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("реформы", RUSSIAN_REFORM),  # the article says реформой, реформе, Реформа
        ("парламентская реформа", RUSSIAN_REFORM),  # парламентской реформе
        ("предложения граждан", RUSSIAN_REFORM),  # предложений от граждан
        ("порты Актау", RUSSIAN_CASPIAN),  # портов, порту
        ("Каспийское море", RUSSIAN_CASPIAN),  # Каспийского моря
    ],
)
def test_inflected_russian_forms_find_the_russian_article_first(demo, q, expected):
    client, ids = demo
    assert search(client, q)[0]["article_id"] == ids[expected]


@pytest.mark.parametrize(
    ("q", "marked"),
    [
        ("әкімдік", "әкімдігінің"),  # the article says әкімдігінің, әкімдігі
        ("шаруашылық", "шаруашылығы"),
        ("вагон тапшылығы", "тапшылығы"),  # вагондарының тапшылығы
    ],
)
def test_kazakh_forms_find_the_kazakh_article_first_and_are_marked(demo, q, marked):
    client, ids = demo
    (first, *_) = search(client, q)
    assert first["article_id"] == ids[KAZAKH_HARVEST]
    assert any(f"<mark>{marked}</mark>" in fragment.lower() for fragment in first["highlight"]["body"])


@pytest.mark.parametrize("q", ["Tokayev", "Токаев", "Tokaev", "Тоқаев"])
def test_another_spelling_of_toqayev_marks_toqayev_in_the_seed(demo, q):
    client, ids = demo
    (seed,) = [hit for hit in search(client, q) if hit["article_id"] == ids[SEED]]
    assert seed["highlight"]["title"] == ["<mark>Toqayev</mark>: Parliamentary Reform Will Require Major Constitutional Changes"]
    assert any("<mark>Toqayev</mark>" in fragment for fragment in seed["highlight"]["body"])


def test_a_query_mixing_a_spelling_and_inflected_words_matches_each_word_its_own_way(demo):
    client, ids = demo
    (first, *_) = search(client, "Tokayev parliamentary reforms")  # the seed: Toqayev, parliamentary, reform
    assert first["article_id"] == ids[SEED]
    assert first["highlight"]["title"] == [
        "<mark>Toqayev</mark>: <mark>Parliamentary</mark> <mark>Reform</mark> Will Require Major Constitutional Changes"
    ]
