"""One malloc arena for a process whose threads pass big buffers around (glibc's malloc; elsewhere nothing).

glibc gives each thread that allocates an arena of its own, and an arena keeps what was freed in
it for the next allocation of its thread. The indexer's bulk threads each serialize a share of a
batch (megabytes) in their own arenas: its peak was 162 / 175 MiB against 136 / 149 with one arena
(bench/index.py, distinct / copies). A transform process's Kafka threads hold buffers beside its
extraction's: 402–409 MiB against 394–400 (bench/transform.py). The rates were the same.
"""

import ctypes

M_ARENA_MAX = -8  # mallopt's parameter number, malloc.h


def one_arena() -> None:
    """Every thread of the process allocates from the main arena from now on; call before starting threads."""
    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)  # the C library the process runs on
    if mallopt is not None:
        mallopt(M_ARENA_MAX, 1)
