"""Apache Kafka 4 as one KRaft node (broker and controller), from Maven Central."""

import base64
import subprocess
import uuid
from functools import cached_property
from pathlib import Path

from kafka import KafkaAdminClient
from kafka.errors import KafkaError

from newsflow.errors import ServiceError
from newsflow.services import maven
from newsflow.services.base import Health, LocalService, RunRecord, port_open, quiet_loggers, write_from_template
from newsflow.services.jdk import Jdk, find_jdk

KAFKA_MINIMUM_JAVA = 17


class KafkaBroker(LocalService):
    name = "kafka"

    @property
    def version(self) -> str:
        return self.settings.kafka_version

    @property
    def ports(self) -> dict[str, int]:
        return {
            "kafka_port": self.settings.kafka_port,
            "kafka_controller_port": self.settings.kafka_controller_port,
        }

    @cached_property
    def jdk(self) -> Jdk:
        return find_jdk(KAFKA_MINIMUM_JAVA, self.settings.java_home)

    @cached_property
    def classpath(self) -> list[Path]:
        pom = self.home / "pom.xml"
        write_from_template("kafka-pom.xml", pom, kafka_version=self.version)
        return maven.resolve_classpath(pom, self.home / f"classpath-{self.version}.txt", self.home / "maven.log")

    @property
    def _data_dir(self) -> Path:
        return self.home / "data"

    def install(self) -> None:
        """Resolve the broker's classpath, write its configuration, format its storage once."""
        _ = self.classpath  # resolved here, not at the first start
        write_from_template(
            "kafka-server.properties",
            self.home / "server.properties",
            broker_port=self.settings.kafka_port,
            controller_port=self.settings.kafka_controller_port,
            data_dir=self._data_dir,
            max_message_bytes=self.settings.kafka_max_message_bytes,
        )
        write_from_template("kafka-log4j2.properties", self.home / "log4j2.properties")
        if not (self._data_dir / "meta.properties").is_file():
            self._format_storage()

    def _format_storage(self) -> None:
        # Kafka's cluster ids are 16 random bytes in URL-safe base64 without padding.
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        formatted = subprocess.run(
            [
                *self._java(),
                "kafka.tools.StorageTool",
                "format",
                "--standalone",
                f"--cluster-id={cluster_id}",  # one argument: an id may start with "-"
                "--config",
                str(self.home / "server.properties"),
            ],
            capture_output=True,
            text=True,
        )
        if formatted.returncode != 0:
            last_line = (formatted.stderr or formatted.stdout).strip().splitlines()[-1:]
            raise ServiceError(f"kafka: formatting the storage in {self._data_dir} failed: {' '.join(last_line)}")

    def _java(self) -> list[str]:
        return [
            str(self.jdk.java),
            f"-Xms{self.settings.kafka_heap}",
            f"-Xmx{self.settings.kafka_heap}",
            f"-Dlog4j2.configurationFile={self.home / 'log4j2.properties'}",
            "-cp",
            ":".join(str(jar) for jar in self.classpath),
        ]

    def command(self) -> tuple[list[str], dict[str, str]]:
        return [*self._java(), "kafka.Kafka", str(self.home / "server.properties")], {}

    def probe(self, record: RunRecord) -> Health:
        port = record.ports["kafka_port"]
        if not port_open(port):
            return Health(False, f"port {port} is not listening yet")
        try:
            with quiet_loggers("kafka"):
                admin = KafkaAdminClient(
                    bootstrap_servers=f"127.0.0.1:{port}",
                    request_timeout_ms=5000,
                    bootstrap_timeout_ms=5000,
                )
                try:
                    cluster = admin.describe_cluster()
                finally:
                    admin.close()
        except KafkaError as exc:
            return Health(False, f"no cluster metadata yet ({type(exc).__name__})")
        brokers = len(cluster["brokers"])
        return Health(True, f"{brokers} broker, controller {cluster['controller_id']}", record.version)
