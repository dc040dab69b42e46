"""What every bench prints for machines: with `--json`, one JSON object as its last line.

A bench adds the flag with `json_flag(parser)` (or, without options of its own, parses its
arguments with `json_arguments(__doc__)`) and ends with `print_json(args, figures)`; the
object holds its ratios and percentiles under the names its docstring gives, plus the 1-minute
load average at the end (`load`), which says whether the cores were shared with more than it.
Infinite values (an article never seen) are written as null.
"""

import argparse
import json
import math
from pathlib import Path
from typing import Any


def json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--json", action="store_true", help="print the figures as one JSON object on the last line too (ratios, percentiles)"
    )


def json_arguments(doc: str) -> argparse.Namespace:
    """The arguments of a bench whose only option is `--json`, its description the first paragraph of `doc`."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    json_flag(parser)
    return parser.parse_args()


def load() -> float:
    """The 1-minute load average: how many processes wanted the cores, ours and everyone else's."""
    return float(Path("/proc/loadavg").read_text().split()[0])


def print_json(args: argparse.Namespace, figures: dict[str, Any]) -> None:
    if args.json:
        print(json.dumps({**_finite(figures), "load": load()}, sort_keys=True))


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 4) if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(each) for key, each in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(each) for each in value]
    return value
