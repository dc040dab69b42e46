"""The one settings class of newsflow, read from environment variables named `NEWSFLOW_<FIELD>`.

Every stage, the CLI and the DAGs take a `Settings`; nothing else reads the environment.
Validation fills the derived defaults (the local services' endpoints) and keeps credentials out
of the URL settings, which are printed (status, errors, logs): a username and password in
NEWSFLOW_ELASTICSEARCH_URL become NEWSFLOW_ELASTICSEARCH_USERNAME and _PASSWORD (a `SecretStr`).
"""

from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import unquote, urlsplit

from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from newsflow.errors import ConfigError

Port = Annotated[int, Field(ge=1, le=65535)]
JavaHeap = Annotated[str, Field(pattern=r"^[1-9][0-9]*[mg]$")]

MIB = 1024 * 1024


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NEWSFLOW_", extra="ignore", frozen=True)

    state_dir: Path = Field(
        Path(".newsflow"),
        description="Where local services keep their distributions, data, logs and pid files.",
    )

    # Where the pipeline's clients connect: the local services by default, any cluster otherwise.
    kafka_bootstrap_servers: str = Field("", description="Kafka bootstrap servers, comma-separated; default: the local broker.")
    kafka_compression: Literal["none", "gzip", "lz4", "zstd"] = "zstd"
    kafka_max_message_bytes: int = Field(
        16 * MIB,
        ge=MIB,
        description="Largest record (after compression) producers send and topics accept.",
    )
    elasticsearch_url: str = Field(
        "", description="Elasticsearch URL; default: the local node. Credentials in it are taken out as username and password."
    )
    elasticsearch_username: str | None = None
    elasticsearch_password: SecretStr | None = None
    elasticsearch_request_timeout: float = Field(30.0, gt=0)

    # Topics, created by `newsflow topics create`.
    topic_raw: str = "news.raw"
    topic_articles: str = "news.articles"
    topic_dlq: str = "news.dlq"
    topic_partitions: int = Field(6, ge=1, description="6 splits evenly among 1, 2, 3 or 6 worker processes.")
    topic_replication_factor: int = Field(1, ge=1)
    topic_retention_ms: int = Field(7 * 24 * 3600 * 1000, ge=-1)

    # Ingest: sources, schedule and the fetcher's limits.
    sources_file: Path = Field(Path("sources.yaml"), description="The YAML file of news sources.")
    ingest_schedule: str = Field(
        "*/5 * * * *", description="Cron schedule of the news_ingest DAG; each run fetches the sources due only."
    )
    ingest_parallel_sources: int = Field(4, ge=1, description="Sources the DAG ingests at once.")
    ingest_max_links_per_listing: int = Field(
        1000,
        ge=1,
        description="Articles one run fetches from one feed, sitemap or listing page, newest first; "
        "the rest are counted (too_many_links) and left for later runs.",
    )
    ingest_max_links_per_run: int = Field(
        2000,
        ge=1,
        description="Articles one run of a source fetches, all its listings together, newest first; "
        "the rest are counted (too_many_links) and left for later runs.",
    )
    ingest_state_index: str = Field(
        "newsflow-ingest-state",
        pattern=r"^[a-z0-9][a-z0-9_.-]*$",
        description="The Elasticsearch index of what ingest remembers (validators, content hashes, last runs), "
        "shared by every worker that runs ingest.",
    )
    ingest_state_sqlite: Path | None = Field(
        None,
        description="The SQLite state file of an earlier newsflow, imported once into NEWSFLOW_INGEST_STATE_INDEX and "
        "renamed to <name>.imported; default: <state dir>/ingest.sqlite3.",
    )
    ingest_claim_seconds: float = Field(
        1800.0,
        gt=0,
        description="Seconds a run's claim on a page it publishes keeps other runs off it; longer than a run of one "
        "source takes. A run that dies leaves its pages to the first run after that.",
    )
    user_agent: str = Field(
        "newsflow/0.1 (news ingestion; robots.txt honoured)",
        description="User agent sent to sites and matched against their robots.txt.",
    )
    fetch_timeout: float = Field(20.0, gt=0, description="Seconds for each HTTP request.")
    fetch_max_bytes: int = Field(10 * MIB, ge=1024, description="Largest body fetched, as sent and as decompressed.")
    fetch_max_redirects: int = Field(5, ge=0)
    fetch_retries: int = Field(3, ge=0, description="Retries after a timeout, 429 or 5xx.")
    fetch_retry_backoff: float = Field(0.5, ge=0, description="Seconds before the first retry; doubles.")
    fetch_concurrency: int = Field(32, ge=1, description="Requests in flight at once, all hosts together.")
    fetch_per_host_concurrency: int = Field(2, ge=1, description="Requests in flight at once to one host.")

    worker_name: str = Field(
        "",
        description="This machine's name among those running workers, part of their transactional ids; default: "
        "the host name. Two transform workers of one group on one machine need different names.",
    )

    # Transform workers.
    transform_processes: int = Field(0, ge=0, description="Worker processes; 0: one per core.")
    transform_group: str = Field("newsflow-transform", description="Consumer group of the transform workers.")
    transform_batch_size: int = Field(100, ge=1, description="Records per batch, committed together.")
    transform_timeout: float = Field(10.0, gt=0, description="Seconds one page may take to extract.")
    transform_min_words: int = Field(25, ge=1, description="Shorter bodies are not articles.")
    transform_exactly_once: bool = Field(
        True,
        description="Publish each batch's articles and dead letters in a Kafka transaction with its offsets, so "
        "news.articles holds each exactly once; false: at-least-once (a Kafka without transactions).",
    )
    transform_metrics_port: int = Field(9464, ge=0, le=65535, description="Port of /metrics; 0: none.")

    # Search: the index and its indexer.
    index_alias: str = Field(
        "news",
        pattern=r"^[a-z0-9][a-z0-9_-]*$",
        description="Alias searched and written; physical indices are <alias>-000001, ...",
    )
    index_shards: int = Field(1, ge=1)
    index_replicas: int = Field(0, ge=0, description="0 on one node; 1 or more on a cluster.")
    index_keep_old_hours: float = Field(
        168.0,
        ge=0,
        description="Hours an index replaced by a migration is kept before it is deleted (news_reindex, news_retention).",
    )
    retention_days: int = Field(
        0,
        ge=0,
        description="Age in days beyond which news_retention drops articles (by publication date, else first seen); 0: keep all.",
    )
    index_group: str = Field("newsflow-index", description="Consumer group of the indexer.")
    index_batch_size: int = Field(500, ge=1, description="Articles per bulk request, committed together.")
    index_retry_max_seconds: float = Field(
        30.0, gt=0, description="Longest pause between retries while Elasticsearch is unavailable."
    )
    search_timeout: float = Field(
        2.0,
        ge=0.001,
        description="Seconds Elasticsearch may spend finding the matches of one API search; a slower one is stopped (HTTP 504).",
    )

    quality_index: str = Field(
        "news-quality",
        pattern=r"^[a-z0-9][a-z0-9_-]*$",
        description="The index news_quality writes its measures to, one document per source and run (Kibana shows it).",
    )

    kibana_url: str = Field("http://127.0.0.1:5601", description="Kibana, for `newsflow kibana setup`.")
    kibana_allow_http_credentials: bool = Field(
        False,
        description="Let `newsflow kibana setup` send the password over plain http to a Kibana that is not on loopback.",
    )
    airflow_port: Port = Field(8080, description="Port of Airflow's UI and API on 127.0.0.1, for `newsflow airflow`.")
    demo_site_port: Port = Field(
        8765, description="Port of the sample news site `newsflow demo` serves on 127.0.0.1 (part of its article URLs)."
    )

    # Local services, run by `newsflow services up` from Maven Central artifacts.
    java_home: Path | None = Field(None, description="JDK that runs the local services; default: the newest installed JDK.")
    kafka_version: str = "4.4.0"
    kafka_port: Port = 9092
    kafka_controller_port: Port = 9093
    kafka_heap: JavaHeap = "512m"
    elasticsearch_version: str = "9.5.4"
    elasticsearch_port: Port = 9200
    elasticsearch_transport_port: Port = 9300
    elasticsearch_heap: JavaHeap = "1g"
    elasticsearch_user: str = Field(
        "newsflow-es",
        description="System user that runs Elasticsearch when newsflow runs as root (Elasticsearch refuses to run as root).",
    )
    service_start_timeout: float = Field(
        180.0, gt=0, description="Seconds a local service (Kafka, Elasticsearch, Airflow) may take to become healthy."
    )

    @model_validator(mode="after")
    def _default_endpoints_to_local_services(self) -> "Settings":
        # Frozen model: fill the derived defaults once, here, so readers see plain values.
        if not self.kafka_bootstrap_servers:
            object.__setattr__(self, "kafka_bootstrap_servers", f"127.0.0.1:{self.kafka_port}")
        if not self.elasticsearch_url:
            object.__setattr__(self, "elasticsearch_url", f"http://127.0.0.1:{self.elasticsearch_port}")
        if self.ingest_state_sqlite is None:
            object.__setattr__(self, "ingest_state_sqlite", self.state_dir / "ingest.sqlite3")
        return self

    @model_validator(mode="after")
    def _take_credentials_out_of_urls(self) -> "Settings":
        # Raised as ConfigError, not ValueError: pydantic would print the input, password and all.
        url, username, password = _without_userinfo(self.elasticsearch_url)
        if url != self.elasticsearch_url:
            if self.elasticsearch_username or self.elasticsearch_password:
                raise ConfigError(
                    "NEWSFLOW_ELASTICSEARCH_URL holds credentials and NEWSFLOW_ELASTICSEARCH_USERNAME or _PASSWORD "
                    "is set too: keep one of the two"
                )
            object.__setattr__(self, "elasticsearch_url", url)
            object.__setattr__(self, "elasticsearch_username", username)
            object.__setattr__(self, "elasticsearch_password", SecretStr(password) if password else None)
        if _without_userinfo(self.kibana_url)[0] != self.kibana_url:
            raise ConfigError(
                "NEWSFLOW_KIBANA_URL holds credentials: take them out; `newsflow kibana setup` logs in with "
                "NEWSFLOW_ELASTICSEARCH_USERNAME and NEWSFLOW_ELASTICSEARCH_PASSWORD"
            )
        return self


def _without_userinfo(url: str) -> tuple[str, str | None, str | None]:
    """`url` without its `user:password@` part, and the (percent-decoded) user and password it had."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url, None, None
    bare = parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()
    return bare, unquote(parts.username) if parts.username else None, unquote(parts.password) if parts.password else None


def load_settings(**overrides: Any) -> Settings:
    """Read the settings from the environment; a bad value raises a one-line `ConfigError`."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        name = "NEWSFLOW_" + "_".join(str(part) for part in first["loc"]).upper()
        shown = "" if "PASSWORD" in name else f"={first.get('input')!r}"
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise ConfigError(f"{name}{shown} is invalid: {first['msg']}{more}") from None
