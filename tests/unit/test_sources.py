from pathlib import Path

import pytest

from newsflow.errors import ConfigError
from newsflow.sources import load_sources

REPO = Path(__file__).parents[2]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sources.yaml"
    path.write_text(text)
    return path


def test_the_shipped_example_is_valid():
    sources = load_sources(REPO / "sources.example.yaml")
    assert {source.id for source in sources} >= {"orda-kz-en", "local-sample"}


def test_a_valid_file_gives_typed_sources(tmp_path):
    (source,) = load_sources(
        write(
            tmp_path,
            """
sources:
  - id: orda-kz-en
    name: Orda.kz (English)
    kind: feed
    urls: [https://orda.kz/en/feed/]
    language: en
    site_rules: {drop_selectors: [".latest-news"]}
""",
        )
    )
    assert source.kind == "feed" and str(source.urls[0]) == "https://orda.kz/en/feed/"
    assert source.requests_per_second == 1.0 and source.allow_networks == []
    assert source.site_rules.drop_selectors == [".latest-news"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "sources:\n  - {id: a, name: A, kind: feed, urls: [not-a-url]}",
            "source 'a', field 'urls.0': Input should be a valid URL",
        ),
        (
            "sources:\n  - {id: a, name: A, kind: podcast, urls: ['https://x.example/']}",
            "source 'a', field 'kind': Input should be 'feed', 'sitemap' or 'listing'",
        ),
        (
            "sources:\n  - {id: a, name: A, kind: listing, urls: ['https://x.example/']}",
            "source 'a': link_selector is required for kind 'listing' and only allowed there",
        ),
        (
            "sources:\n  - {id: a, name: A, kind: listing, urls: ['https://x.example/'], link_selector: 'a[[['}",
            "source 'a', field 'link_selector': invalid CSS selector 'a[[['",
        ),
        (
            "sources:\n  - {id: a, name: A, kind: feed, urls: ['https://x.example/'], colour: red}",
            "source 'a', field 'colour': Extra inputs are not permitted",
        ),
        ("sources:\n  - {name: A, kind: feed, urls: ['https://x.example/']}", "source #1, field 'id': Field required"),
        (
            "sources:\n  - {id: a, name: A, kind: feed, urls: ['https://x.example/']}\n"
            "  - {id: a, name: B, kind: feed, urls: ['https://y.example/']}",
            "sources: source id 'a' appears twice",
        ),
        (
            "sources:\n  - {id: a, name: A, kind: feed, urls: ['https://x.example/'], allow_networks: [10.0.0.0/33]}",
            "source 'a', field 'allow_networks.0",
        ),
    ],
)
def test_a_bad_source_is_one_line_naming_source_and_field(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as raised:
        load_sources(path)
    assert str(raised.value).startswith(f"{path}: {message}")
    assert "\n" not in str(raised.value)


def test_bad_yaml_and_a_missing_file_are_one_line(tmp_path):
    with pytest.raises(ConfigError, match=r"not valid YAML at line 3, column 1: expected"):
        load_sources(write(tmp_path, "sources:\n  - {id: a\n"))
    with pytest.raises(ConfigError, match=r"cannot read the sources file .*set NEWSFLOW_SOURCES_FILE"):
        load_sources(tmp_path / "missing.yaml")
