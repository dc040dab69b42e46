"""How long `newsflow services up` takes cold (empty Maven cache, no state) and warm.

Runs both in one go on a separate state dir, separate ports and a separate Maven repository,
so it neither disturbs nor benefits from services already running here:

    .venv/bin/python bench/services.py [--json]

With --json, the last line is one JSON object: `cold_seconds`, `warm_seconds` and their ratio `cold_vs_warm`.
"""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.report import json_arguments, print_json


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def newsflow(env: dict[str, str], *arguments: str) -> float:
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "newsflow", *arguments], env=env, check=True, stdout=subprocess.DEVNULL)
    return time.monotonic() - started


def main() -> None:
    args = json_arguments(__doc__)
    workdir = Path(tempfile.mkdtemp(prefix="newsflow-bench-"))
    workdir.chmod(0o755)  # Elasticsearch's unprivileged user must reach its files when run by root
    env = {
        **os.environ,
        "NEWSFLOW_STATE_DIR": str(workdir / "state"),
        "MAVEN_OPTS": f"{os.environ.get('MAVEN_OPTS', '')} -Dmaven.repo.local={workdir / 'm2'}",
        **{
            f"NEWSFLOW_{name}": str(free_port())
            for name in ("KAFKA_PORT", "KAFKA_CONTROLLER_PORT", "ELASTICSEARCH_PORT", "ELASTICSEARCH_TRANSPORT_PORT")
        },
    }
    try:
        cold = newsflow(env, "services", "up")
        newsflow(env, "services", "down")
        warm = newsflow(env, "services", "up")
        newsflow(env, "services", "down", "--wipe")
    finally:
        subprocess.run([sys.executable, "-m", "newsflow", "services", "down"], env=env, capture_output=True)
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"{'services up':<44}{'seconds':>8}")
    print(f"{'cold (empty Maven cache, no state)':<44}{cold:>8.1f}")
    print(f"{'warm (cached artifacts, existing data)':<44}{warm:>8.1f}")
    print(f"{'cold / warm':<44}{cold / warm:>8.2f}")
    print_json(args, {"cold_seconds": cold, "warm_seconds": warm, "cold_vs_warm": cold / warm})


if __name__ == "__main__":
    main()
