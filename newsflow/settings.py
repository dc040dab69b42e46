"""The one settings class of newsflow, read from environment variables named `NEWSFLOW_<FIELD>`.

Every stage, the CLI and the DAGs take a `Settings`; nothing else reads the environment.
Validation, in steps:
1. The local services' ports must stay distinct on every node: node i (0-based) of
   NEWSFLOW_SERVICE_NODES listens on each base port + i × NODE_PORT_STEP.
2. Derived defaults are filled from the number of local nodes: the endpoints (every node's),
   the heaps, the topics' replication and min.insync.replicas, the index's replicas. A value set
   explicitly is kept.
3. Credentials are kept out of the URL settings, which are printed (status, errors, logs): a
   username and password in NEWSFLOW_ELASTICSEARCH_URL (in each of its comma-separated URLs)
   become NEWSFLOW_ELASTICSEARCH_USERNAME and _PASSWORD (a `SecretStr`).
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
# Node i of a local cluster listens on every base port + i × NODE_PORT_STEP: 9092, 9102, 9112 for Kafka,
# 9200, 9210, 9220 for Elasticsearch; node 0 keeps the single node's ports.
NODE_PORT_STEP = 10
LOCAL_PORTS = ("kafka_port", "kafka_controller_port", "elasticsearch_port", "elasticsearch_transport_port")


def node_port(base: int, node: int) -> int:
    """The port of local node `node` (0-based) for the setting whose value (node 0's port) is `base`."""
    return base + node * NODE_PORT_STEP


def replication_for(brokers: int) -> int:
    """Replicas of a partition on `brokers` brokers: three where there are three, all of them on fewer."""
    return min(3, brokers)


def min_insync_for(replication: int) -> int:
    """In-sync replicas a write needs: all but one (so one broker may be down), and at least one."""
    return max(1, replication - 1)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NEWSFLOW_", extra="ignore", frozen=True)

    state_dir: Path = Field(
        Path(".newsflow"),
        description="Where local services keep their distributions, data, logs and pid files.",
    )

    # Where the pipeline's clients connect: the local services by default, any cluster otherwise.
    kafka_bootstrap_servers: str = Field(
        "", description="Kafka bootstrap servers, comma-separated; default: the local broker (every local broker of a cluster)."
    )
    kafka_compression: Literal["none", "gzip", "lz4", "zstd"] = "zstd"
    kafka_max_message_bytes: int = Field(
        16 * MIB,
        ge=MIB,
        description="Largest record (after compression) producers send and topics accept.",
    )
    elasticsearch_url: str = Field(
        "",
        description="Elasticsearch URL, or several comma-separated (the nodes of one cluster); default: the local node (every "
        "local node of a cluster). Credentials in it are taken out as username and password.",
    )
    elasticsearch_username: str | None = None
    elasticsearch_password: SecretStr | None = None
    elasticsearch_request_timeout: float = Field(30.0, gt=0)

    # Topics, created by `newsflow topics create`.
    topic_raw: str = "news.raw"
    topic_articles: str = "news.articles"
    topic_dlq: str = "news.dlq"
    topic_partitions: int = Field(6, ge=1, description="6 splits evenly among 1, 2, 3 or 6 worker processes.")
    topic_replication_factor: int = Field(
        1, ge=1, description="Replicas of each partition; default: 1 on one local node, 3 on a local cluster of 3 or more."
    )
    topic_min_insync_replicas: int = Field(
        1,
        ge=1,
        description="Replicas that must have a record before a producer's send succeeds (acks=all); "
        "default: the replication factor minus one, at least 1.",
    )
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
        "source takes. A run that dies leaves its pages to the first run after that (an Airflow task's retry "
        "takes over its dead try's claims at once).",
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
    index_replicas: int = Field(
        0, ge=0, description="Replicas of each shard; default: 0 on one local node, 1 on a local cluster."
    )
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
    index_batch_size: int = Field(500, ge=1, description="Articles per batch, committed together.")
    index_bulk_requests: int = Field(
        2,
        ge=1,
        description="Bulk requests a batch is split into, sent side by side: a shard indexes each request in one "
        "thread, and an Elasticsearch node has a thread per core.",
    )
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
    airflow_parallelism: int = Field(
        8,
        ge=1,
        description="Tasks `newsflow airflow` runs at once (Airflow's core.parallelism): its LocalExecutor forks "
        "that many workers at start, each holding memory while idle; Airflow's 32 suit a server, not a laptop.",
    )
    demo_site_port: Port = Field(
        8765, description="Port of the sample news site `newsflow demo` serves on 127.0.0.1 (part of its article URLs)."
    )

    # Local services, run by `newsflow services up` from Maven Central artifacts.
    java_home: Path | None = Field(None, description="JDK that runs the local services; default: the newest installed JDK.")
    service_nodes: int = Field(
        1,
        ge=1,
        le=9,
        description="Nodes of each local service: 1, or 3 for a Kafka cluster and an Elasticsearch cluster on loopback "
        "(node i listens on each port setting + 10 × i).",
    )
    kafka_version: str = "4.4.0"
    kafka_port: Port = Field(9092, description="The local broker's port (node 0's on a local cluster).")
    kafka_controller_port: Port = 9093
    kafka_heap: JavaHeap = Field(
        "256m", description="Heap of each local broker (bench/stack.py: 512m took the stack over 4 GB, 704 vs 432 MiB)."
    )
    elasticsearch_version: str = "9.5.4"
    elasticsearch_port: Port = Field(9200, description="The local node's HTTP port (node 0's on a local cluster).")
    elasticsearch_transport_port: Port = 9300
    elasticsearch_heap: JavaHeap = Field("1g", description="Heap of each local node; default: 1g, 512m on a local cluster.")
    elasticsearch_user: str = Field(
        "newsflow-es",
        description="System user that runs Elasticsearch when newsflow runs as root (Elasticsearch refuses to run as root).",
    )
    redis_port: Port = Field(
        6379, description="Port of the local Redis on 127.0.0.1 (`newsflow services up redis`), Airflow's Celery broker."
    )
    service_start_timeout: float = Field(
        180.0, gt=0, description="Seconds a local service (Kafka, Elasticsearch, Airflow) may take to become healthy."
    )

    @model_validator(mode="after")
    def _keep_local_ports_distinct(self) -> "Settings":
        owners: dict[int, str] = {}
        for node in range(self.service_nodes):
            for setting in LOCAL_PORTS:
                port = node_port(getattr(self, setting), node)
                name = f"NEWSFLOW_{setting.upper()}"
                if port > 65535:
                    raise ConfigError(f"{name}={getattr(self, setting)} gives local node {node + 1} port {port}, beyond 65535")
                if port in owners:
                    raise ConfigError(
                        f"{name} and {owners[port]} both give port {port} to a local node "
                        f"(node i adds {NODE_PORT_STEP} × i): choose ports at least {NODE_PORT_STEP * self.service_nodes} apart"
                    )
                owners[port] = name
        return self

    @model_validator(mode="after")
    def _derive_defaults_from_local_services(self) -> "Settings":
        # Frozen model: fill the derived defaults once, here, so readers see plain values.
        nodes = range(self.service_nodes)
        cluster = self.service_nodes > 1
        if not self.kafka_bootstrap_servers:
            servers = ",".join(f"127.0.0.1:{node_port(self.kafka_port, node)}" for node in nodes)
            object.__setattr__(self, "kafka_bootstrap_servers", servers)
        if not self.elasticsearch_url:
            urls = ",".join(f"http://127.0.0.1:{node_port(self.elasticsearch_port, node)}" for node in nodes)
            object.__setattr__(self, "elasticsearch_url", urls)
        derived: dict[str, object] = {
            "elasticsearch_heap": "512m" if cluster else "1g",
            "topic_replication_factor": replication_for(self.service_nodes),
            "index_replicas": 1 if cluster else 0,
        }
        for name, value in derived.items():
            if name not in self.model_fields_set:
                object.__setattr__(self, name, value)
        if "topic_min_insync_replicas" not in self.model_fields_set:
            object.__setattr__(self, "topic_min_insync_replicas", min_insync_for(self.topic_replication_factor))
        if self.topic_min_insync_replicas > self.topic_replication_factor:
            raise ConfigError(
                f"NEWSFLOW_TOPIC_MIN_INSYNC_REPLICAS={self.topic_min_insync_replicas} exceeds "
                f"NEWSFLOW_TOPIC_REPLICATION_FACTOR={self.topic_replication_factor}: no send could ever succeed"
            )
        if self.ingest_state_sqlite is None:
            object.__setattr__(self, "ingest_state_sqlite", self.state_dir / "ingest.sqlite3")
        return self

    @model_validator(mode="after")
    def _take_credentials_out_of_urls(self) -> "Settings":
        # Raised as ConfigError, not ValueError: pydantic would print the input, password and all.
        split = [_without_userinfo(url.strip()) for url in self.elasticsearch_url.split(",")]
        url = ",".join(bare for bare, _, _ in split)
        if url != self.elasticsearch_url:
            credentials = {(username, password) for bare, username, password in split if (username, password) != (None, None)}
            if len(credentials) > 1:
                raise ConfigError("NEWSFLOW_ELASTICSEARCH_URL holds different credentials in its URLs: give one pair")
            if credentials and (self.elasticsearch_username or self.elasticsearch_password):
                raise ConfigError(
                    "NEWSFLOW_ELASTICSEARCH_URL holds credentials and NEWSFLOW_ELASTICSEARCH_USERNAME or _PASSWORD "
                    "is set too: keep one of the two"
                )
            object.__setattr__(self, "elasticsearch_url", url)
            if credentials:
                ((username, password),) = credentials
                object.__setattr__(self, "elasticsearch_username", username)
                object.__setattr__(self, "elasticsearch_password", SecretStr(password) if password else None)
        if _without_userinfo(self.kibana_url)[0] != self.kibana_url:
            raise ConfigError(
                "NEWSFLOW_KIBANA_URL holds credentials: take them out; `newsflow kibana setup` logs in with "
                "NEWSFLOW_ELASTICSEARCH_USERNAME and NEWSFLOW_ELASTICSEARCH_PASSWORD"
            )
        return self

    @property
    def elasticsearch_urls(self) -> list[str]:
        """The URLs of NEWSFLOW_ELASTICSEARCH_URL: one, or the nodes of one cluster."""
        return self.elasticsearch_url.split(",")

    @property
    def local_cluster(self) -> bool:
        """True when the local services run as clusters (NEWSFLOW_SERVICE_NODES > 1)."""
        return self.service_nodes > 1


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
