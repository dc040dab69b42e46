import os

import pytest

from newsflow.errors import ConfigError
from newsflow.settings import Settings, load_settings


@pytest.fixture(autouse=True)
def no_newsflow_environment(monkeypatch):
    """Defaults are what these tests check: whatever NEWSFLOW_* the shell has set is set aside."""
    for name in [name for name in os.environ if name.startswith("NEWSFLOW_")]:
        monkeypatch.delenv(name)


def test_defaults_point_at_the_local_services():
    settings = Settings()
    assert settings.kafka_bootstrap_servers == "127.0.0.1:9092"
    assert settings.elasticsearch_url == "http://127.0.0.1:9200"
    assert (settings.topic_raw, settings.topic_articles, settings.topic_dlq) == ("news.raw", "news.articles", "news.dlq")


def test_local_endpoints_follow_the_local_ports(monkeypatch):
    monkeypatch.setenv("NEWSFLOW_KAFKA_PORT", "19092")
    monkeypatch.setenv("NEWSFLOW_ELASTICSEARCH_PORT", "19200")
    settings = load_settings()
    assert settings.kafka_bootstrap_servers == "127.0.0.1:19092"
    assert settings.elasticsearch_url == "http://127.0.0.1:19200"


def test_explicit_endpoints_win_over_local_ports(monkeypatch):
    monkeypatch.setenv("NEWSFLOW_KAFKA_BOOTSTRAP_SERVERS", "kafka:9092")
    monkeypatch.setenv("NEWSFLOW_ELASTICSEARCH_URL", "https://search.example:9200")
    monkeypatch.setenv("NEWSFLOW_KAFKA_PORT", "19092")
    settings = load_settings()
    assert settings.kafka_bootstrap_servers == "kafka:9092"
    assert settings.elasticsearch_url == "https://search.example:9200"


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("NEWSFLOW_KAFKA_PORT", "90000", "NEWSFLOW_KAFKA_PORT='90000' is invalid: Input should be less than or equal to 65535"),
        ("NEWSFLOW_KAFKA_PORT", "kafka", "NEWSFLOW_KAFKA_PORT='kafka' is invalid: Input should be a valid integer"),
        ("NEWSFLOW_ELASTICSEARCH_HEAP", "lots", "NEWSFLOW_ELASTICSEARCH_HEAP='lots' is invalid: String should match pattern"),
        ("NEWSFLOW_KAFKA_COMPRESSION", "brotli", "NEWSFLOW_KAFKA_COMPRESSION='brotli' is invalid: Input should be"),
        (
            "NEWSFLOW_TOPIC_PARTITIONS",
            "0",
            "NEWSFLOW_TOPIC_PARTITIONS='0' is invalid: Input should be greater than or equal to 1",
        ),
        (
            "NEWSFLOW_INGEST_MAX_LINKS_PER_RUN",
            "0",
            "NEWSFLOW_INGEST_MAX_LINKS_PER_RUN='0' is invalid: Input should be greater than or equal to 1",
        ),
        (
            "NEWSFLOW_INGEST_MAX_LINKS_PER_LISTING",
            "all",
            "NEWSFLOW_INGEST_MAX_LINKS_PER_LISTING='all' is invalid: Input should be a valid integer",
        ),
    ],
)
def test_a_bad_value_is_one_line_naming_the_variable(monkeypatch, variable, value, expected):
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as raised:
        load_settings()
    assert str(raised.value).startswith(expected)
    assert "\n" not in str(raised.value)


def test_several_bad_values_are_counted_in_the_one_line(monkeypatch):
    monkeypatch.setenv("NEWSFLOW_KAFKA_PORT", "x")
    monkeypatch.setenv("NEWSFLOW_ELASTICSEARCH_PORT", "y")
    with pytest.raises(ConfigError, match=r"\(and 1 more\)$"):
        load_settings()


def test_the_password_is_secret():
    settings = Settings(elasticsearch_username="elastic", elasticsearch_password="s3cret")
    assert "s3cret" not in repr(settings)
    assert settings.elasticsearch_password.get_secret_value() == "s3cret"
