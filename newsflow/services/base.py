"""What every local service shares: its folder, its run record, start, stop and health.

A service runs one node, or several as a cluster on loopback (NEWSFLOW_SERVICE_NODES; a service
that is not `clustered`, as Redis, always runs one): each node is one `LocalService` of the same
class, told apart by its index. One node is named after its service
(`kafka`); the nodes of a cluster are numbered from 1 (`kafka-1`, `kafka-2`, ...), and node i listens
on each port setting + i × NODE_PORT_STEP. A node lives in `<state_dir>/<name>/`. Starting it writes
`run.json` (pid, version, ports): that record is how `down` knows it stops only what `up` started,
and how `status` knows what runs without asking the process.
"""

import json
import logging
import os
import signal
import socket
import subprocess
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from importlib.resources import files
from pathlib import Path
from string import Template

from newsflow.errors import PortInUse, ServiceUnhealthy
from newsflow.settings import Settings, node_port


@dataclass(frozen=True)
class RunRecord:
    """What was started: written at start, removed at stop."""

    pid: int
    version: str
    ports: dict[str, int]
    started_at: float = field(default_factory=time.time)


@dataclass(frozen=True)
class Health:
    healthy: bool
    detail: str
    version: str | None = None


class LocalService(ABC):
    """One node of a service (a Java one from Maven Central artifacts, or a Debian package's binary), supervised
    through its run record."""

    service: str  # what it is: "kafka", "elasticsearch", "redis"
    clustered = True  # False: one node, whatever NEWSFLOW_SERVICE_NODES says
    installed_from = "Maven Central, cached in ~/.m2"  # what `up` says it is installing from

    def __init__(self, settings: Settings, node: int = 0) -> None:
        self.settings = settings
        self.node = node  # 0-based; a cluster's node ids and names count from 1
        self.name = f"{self.service}-{node + 1}" if self.clustered and settings.local_cluster else self.service
        self.home = settings.state_dir.resolve() / self.name
        self.run_file = self.home / "run.json"
        self.log = self.home / f"{self.name}.log"
        self.process: subprocess.Popen | None = None

    # What each service defines.

    @property
    @abstractmethod
    def version(self) -> str:
        """The version `install` installs."""

    @property
    @abstractmethod
    def ports(self) -> dict[str, int]:
        """The ports it listens on, by the name of the setting that chooses them."""

    @abstractmethod
    def install(self) -> None:
        """Resolve artifacts (cached) and write configuration. Idempotent."""

    @abstractmethod
    def command(self) -> tuple[list[str], dict[str, str]]:
        """The command line and extra environment that run the service in the foreground."""

    @abstractmethod
    def probe(self, record: RunRecord) -> Health:
        """Ask the running service whether it is healthy. Never raises."""

    @property
    def data_dirs(self) -> list[Path]:
        """What `down --wipe` removes."""
        return [self.home / "data"]

    def run_as(self) -> str | None:
        """The user to run the process as; None runs it as the current user."""
        return None

    def port(self, base: int) -> int:
        """This node's port for a port setting of value `base`."""
        return node_port(base, self.node)

    @property
    def peers(self) -> range:
        """The indices of every node of this service's cluster, this one included."""
        return range(self.settings.service_nodes if self.clustered else 1)

    # Supervision.

    def running(self) -> RunRecord | None:
        """The run record, if its process is still alive; a stale record is removed."""
        try:
            record = RunRecord(**json.loads(self.run_file.read_text()))
        except (OSError, ValueError, TypeError):
            return None
        if self._alive(record):
            return record
        self.run_file.unlink(missing_ok=True)
        return None

    def check_ports_free(self) -> None:
        for setting, port in self.ports.items():
            if _port_taken(port):
                raise PortInUse(
                    f"{self.name}: port {port} on 127.0.0.1 is in use by another process; "
                    f"stop it or choose another with NEWSFLOW_{setting.upper()}"
                )

    def start(self) -> RunRecord:
        argv, environment = self.command()
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as log:
            process = subprocess.Popen(
                argv,
                cwd=self.home,
                env={**os.environ, **environment},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C in the terminal that ran `up` must not stop it
                user=self.run_as(),
            )
        self.process = process
        record = RunRecord(pid=process.pid, version=self.version, ports=self.ports)
        self.run_file.write_text(json.dumps(asdict(record)))
        return record

    def _alive(self, record: RunRecord) -> bool:
        # The child this object started is asked directly: right after exec, the JVM's
        # /proc/<pid>/cmdline is briefly empty, so the marker test would call it dead.
        if self.process is not None and self.process.pid == record.pid:
            return self.process.poll() is None
        return _process_alive(record.pid, marker=f"{self.home}/")  # "/kafka/" is not in "/kafka-1/..."

    def wait_healthy(self, record: RunRecord, deadline: float) -> Health:
        """Poll until healthy; if the process dies or time runs out, stop it and raise."""
        health = Health(False, "not probed yet")
        while time.monotonic() < deadline:
            if not self._alive(record):
                self.run_file.unlink(missing_ok=True)
                raise ServiceUnhealthy(f"{self.name} exited during start-up; see {self.log}")
            health = self.probe(record)
            if health.healthy:
                return health
            time.sleep(0.5)
        self.stop()
        raise ServiceUnhealthy(
            f"{self.name} did not become healthy within {self.settings.service_start_timeout:g} s "
            f"({health.detail}); stopped it; see {self.log}"
        )

    def stop(self, grace_seconds: float = 30.0) -> bool:
        """Stop the process of the run record (SIGTERM, then SIGKILL); False if none ran."""
        record = self.running()
        if record is None:
            return False
        _signal_group(record.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace_seconds
        while time.monotonic() < deadline and self._alive(record):
            time.sleep(0.2)
        if self._alive(record):
            _signal_group(record.pid, signal.SIGKILL)
        self.run_file.unlink(missing_ok=True)
        return True


def render_template(template: str, **values: object) -> str:
    """The text of `templates/<template>` with `values` substituted."""
    return Template(files(__package__).joinpath("templates", template).read_text()).substitute(values)


def write_from_template(template: str, destination: Path, **values: object) -> None:
    """Render `templates/<template>` into `destination`, leaving it untouched if unchanged."""
    text = render_template(template, **values)
    if not destination.is_file() or destination.read_text() != text:
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_text(text)


def _process_alive(pid: int, marker: str) -> bool:
    """True if `pid` runs and its command line names `marker` (so a reused pid is not ours)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return marker.encode() in cmdline and "\nState:\tZ" not in status


def port_open(port: int) -> bool:
    """True if something accepts connections on 127.0.0.1:`port`."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as connection:
        connection.settimeout(1.0)
        return connection.connect_ex(("127.0.0.1", port)) == 0


@contextmanager
def quiet_loggers(*names: str) -> Iterator[None]:
    """Silence client libraries that log every refused connection while a service starts."""
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def _signal_group(pid: int, signum: int) -> None:
    """Signal the process group the service leads (a launcher and the JVM it spawned)."""
    with suppress(ProcessLookupError):
        os.killpg(pid, signum)


def _port_taken(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False
