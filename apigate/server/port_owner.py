"""Who holds a TCP port: for the one-line error `apigate serve` prints when its port is taken.

Read from Linux's /proc (the listening socket's inode in /proc/net/tcp[6], then the process whose fd points at
it); elsewhere, or when the owner is another user's process we may not inspect, the answer is None.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["port_owner"]

_LISTEN = "0A"


def _listening_inodes(port: int) -> set[str]:
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 9 and fields[3] == _LISTEN and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    return inodes


def port_owner(port: int) -> tuple[int, str] | None:
    """(pid, process name) of a process listening on ``port``, or None if it cannot be told."""
    inodes = _listening_inodes(port)
    if not inodes:
        return None
    targets = {f"socket:[{inode}]" for inode in inodes}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            fds = os.scandir(f"/proc/{entry.name}/fd")
        except OSError:
            continue
        with fds:
            for fd in fds:
                try:
                    if os.readlink(fd.path) in targets:
                        return int(entry.name), _process_name(entry.name)
                except OSError:
                    continue
    return None


def _process_name(pid: str) -> str:
    """``apigate`` for a gateway (its command line says so, its comm says python), else the comm name."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        if any(b"apigate" in arg for arg in argv[:3]):
            return "apigate"
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return "?"
