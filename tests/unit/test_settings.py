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


def test_credentials_in_the_elasticsearch_url_become_username_and_password(monkeypatch):
    monkeypatch.setenv("NEWSFLOW_ELASTICSEARCH_URL", "https://reader:p%40ss%3Aword@search.example:9200/base")
    settings = load_settings()
    assert settings.elasticsearch_url == "https://search.example:9200/base"  # printed by status, errors and logs
    assert settings.elasticsearch_username == "reader"
    assert settings.elasticsearch_password.get_secret_value() == "p@ss:word"
    assert "p@ss" not in repr(settings) and "p%40ss" not in repr(settings)


def test_a_user_without_a_password_in_the_url_is_taken_out_too(monkeypatch):
    monkeypatch.setenv("NEWSFLOW_ELASTICSEARCH_URL", "http://reader@[::1]:9200")
    settings = load_settings()
    assert (settings.elasticsearch_url, settings.elasticsearch_username, settings.elasticsearch_password) == (
        "http://[::1]:9200",
        "reader",
        None,
    )


def test_credentials_in_the_url_and_in_their_settings_are_refused(monkeypatch):
    monkeypatch.setenv("NEWSFLOW_ELASTICSEARCH_URL", "http://reader:s3cret@search.example:9200")
    monkeypatch.setenv("NEWSFLOW_ELASTICSEARCH_USERNAME", "elastic")
    with pytest.raises(ConfigError) as raised:
        load_settings()
    assert str(raised.value) == (
        "NEWSFLOW_ELASTICSEARCH_URL holds credentials and NEWSFLOW_ELASTICSEARCH_USERNAME or _PASSWORD is set too: "
        "keep one of the two"
    )


def test_credentials_in_the_kibana_url_are_refused_without_being_shown(monkeypatch):
    monkeypatch.setenv("NEWSFLOW_KIBANA_URL", "http://elastic:s3cret@kibana:5601")
    with pytest.raises(ConfigError) as raised:
        load_settings()
    assert str(raised.value).startswith("NEWSFLOW_KIBANA_URL holds credentials: take them out;")
    assert "s3cret" not in str(raised.value) and "\n" not in str(raised.value)


def test_search_and_kibana_defaults():
    settings = Settings()
    assert settings.search_timeout == 2.0
    assert settings.kibana_allow_http_credentials is False
