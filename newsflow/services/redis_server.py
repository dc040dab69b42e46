"""Debian's redis-server (`apt-get install redis-server`): the broker and result backend of Airflow's CeleryExecutor.

Started only when named (`newsflow services up redis`), never by plain `up`: the single-machine
stack runs Airflow with its LocalExecutor and needs no broker. One node whatever
NEWSFLOW_SERVICE_NODES says (Celery needs one broker, not a cluster), on 127.0.0.1:NEWSFLOW_REDIS_PORT,
its data (the append-only file) in `<state_dir>/redis/data`.

1. `install` finds the redis-server binary on PATH (a one-line error names the package otherwise)
   and writes `redis.conf` from its template.
2. `command` runs it in the foreground on that file.
3. `probe` asks it for PING and its version.
"""

import re
import shutil
import subprocess
from functools import cached_property
from pathlib import Path
from typing import cast

from redis import Redis
from redis.exceptions import RedisError

from newsflow.errors import ServiceError
from newsflow.services.base import Health, LocalService, RunRecord, port_open, write_from_template

NOT_INSTALLED = "not installed"


class RedisServer(LocalService):
    service = "redis"
    clustered = False
    installed_from = "the redis-server package"

    @cached_property
    def version(self) -> str:
        binary = shutil.which("redis-server")
        if binary is None:
            return NOT_INSTALLED
        output = subprocess.run([binary, "--version"], capture_output=True, text=True, check=False).stdout
        found = re.search(r"v=(\S+)", output)  # "Redis server v=7.0.15 sha=... bits=64 ..."
        return found.group(1) if found else "unknown"

    @property
    def ports(self) -> dict[str, int]:
        return {"redis_port": self.settings.redis_port}

    @property
    def config_file(self) -> Path:
        return self.home / "redis.conf"

    def install(self) -> None:
        if self.version == NOT_INSTALLED:
            raise ServiceError("redis: redis-server is not on PATH; install it: apt-get install redis-server")
        (self.home / "data").mkdir(parents=True, exist_ok=True)
        write_from_template("redis.conf", self.config_file, port=self.settings.redis_port, data_dir=self.home / "data")

    def command(self) -> tuple[list[str], dict[str, str]]:
        return [str(shutil.which("redis-server")), str(self.config_file)], {}

    def probe(self, record: RunRecord) -> Health:
        port = record.ports["redis_port"]
        if not port_open(port):
            return Health(False, f"port {port} is not listening yet")
        client = Redis(host="127.0.0.1", port=port, socket_timeout=5)
        try:
            client.ping()
            server = cast(dict[str, object], client.info("server"))  # typed for the async client too
            version = str(server["redis_version"])
        except RedisError as exc:
            return Health(False, f"no answer to PING yet ({type(exc).__name__})")
        finally:
            client.close()
        return Health(True, "PONG", version)
