import pytest

from newsflow.urls import article_id, canonical_url


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        ("HTTPS://Orda.KZ:443/en/news/a/../story/?utm_source=tw&utm_medium=social#comments", "https://orda.kz/en/news/story/"),
        ("https://orda.kz/en/news/story/?fbclid=abc&gclid=def", "https://orda.kz/en/news/story/"),
        ("https://orda.kz/en/news/?page=2&id=5", "https://orda.kz/en/news/?id=5&page=2"),
        ("http://example.com:80/a/./b", "http://example.com/a/b"),
    ],
)
def test_tracking_fragments_ports_and_dot_segments_are_normalized(url, canonical):
    assert canonical_url(url) == canonical


def test_parameters_that_identify_an_article_are_kept():
    assert canonical_url("https://news.example/view?id=5") != canonical_url("https://news.example/view?id=6")


def test_the_id_is_the_hex_sha256_of_the_canonical_url():
    assert article_id("https://orda.kz/en/news/story/") == "60522a9f3077025477eeebeebd2bc8c7f5e7d5b90471a95bf0fe3a60a92f8b81"
    assert article_id(canonical_url("https://orda.kz/en/news/story/?utm_source=x")) == article_id(
        canonical_url("https://ORDA.kz/en/news/story/#top")
    )
