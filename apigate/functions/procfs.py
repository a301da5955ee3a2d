"""A process's peak memory as Linux's /proc reports it.

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
