"""What /proc says of running processes: resident memory now and at its peak, CPU time used, children."""

import os
from pathlib import Path


def peak_mib(pid: int) -> float | None:
    """The process's peak resident memory so far (VmHWM)."""
    return _status_mib(pid, "VmHWM")


def proportional_mib(pid: int) -> float | None:
    """The process's share of the memory it uses now (Pss): pages shared with other processes (a forked
    child's, a library's) are divided among them, so that the shares of processes add up."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            return next(int(line.split()[1]) / 1024 for line in rollup if line.startswith("Pss:"))
    except (OSError, StopIteration):
        return None


def _status_mib(pid: int, field: str) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as status:
            return next(int(line.split()[1]) / 1024 for line in status if line.startswith(f"{field}:"))
    except (OSError, StopIteration):
        return None


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time the process has used so far (/proc/<pid>/stat fields 14 and 15)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def descendants(pid: int) -> list[int]:
    """The process's children, their children, and so on."""
    try:
        children = [
            int(child) for task in Path(f"/proc/{pid}/task").iterdir() for child in (task / "children").read_text().split()
        ]
    except OSError:
        return []
    return [grandchild for child in children for grandchild in [child, *descendants(child)]]


LABELS = (  # a part of the command line → what the process is; the first that matches
    ("worker transform", "transform supervisor"),
    ("worker index", "indexer"),
    ("resource_tracker", "multiprocessing resource tracker"),
    ("newsflow api", "search API"),
    ("airflow scheduler", "airflow scheduler"),
    ("airflow dag-processor", "airflow dag-processor"),
    ("airflow triggerer", "airflow triggerer"),
    ("airflow api-server", "airflow api-server"),
    ("airflow api_server", "airflow api-server"),  # its process title
    ("airflow serve-logs", "airflow serve-logs"),
    ("LocalExecutor", "airflow LocalExecutor worker"),
    ("airflow standalone", "airflow standalone"),
    ("kafka.Kafka", "kafka"),
    ("org.elasticsearch", "elasticsearch"),
)


def label(pid: int) -> str:
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return "?"
    if "spawn_main" in command:  # a multiprocessing child: named after its parent
        parent = label(_parent(pid))
        return "transform process" if parent == "transform supervisor" else f"{parent} child"
    return next((name for part, name in LABELS if part in command), command.strip()[:40])


def _parent(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except OSError:
        return 0


class Processes:
    """This process's descendants (the workers): label, peak RSS and CPU time of each, sampled while they live."""

    def __init__(self) -> None:
        self.seen: dict[int, tuple[str, float, float]] = {}  # pid → (label, peak MiB, CPU seconds)

    def sample(self) -> None:
        for pid in descendants(os.getpid()):
            peak, cpu = peak_mib(pid), cpu_seconds(pid)
            if peak is not None and cpu is not None:
                self.seen[pid] = (self.seen[pid][0] if pid in self.seen else label(pid), peak, cpu)

    def cpu(self) -> float:
        return sum(cpu for _, _, cpu in self.seen.values())
