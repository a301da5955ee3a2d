"""A process's peak memory and scheduling state as Linux's /proc reports them.

Shared by the gateway and the worker, so it imports nothing: the worker loads it before user code.
"""

from __future__ import annotations


def peak_rss_kb(pid: int | str = "self") -> int:
    """The process's peak resident memory (VmHWM) in KiB; 0 where /proc is missing or the process is gone."""
    try:
        with open(f"/proc/{pid}/status", "rb") as status:
            for line in status:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def runnable(pid: int) -> bool:
    """The process is running or waiting for a core (state R), rather than blocked; False if unknown."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[0] == b"R"
    except (OSError, IndexError):
        return False
