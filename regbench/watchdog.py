"""Ends the processes a grid's local Ray instance started once the grid's driver is gone.

``regbench grid`` starts Ray's servers and workers as its descendants. When the driver ends
without shutting Ray down (``kill -9``, a crash, a second Ctrl-C), some of them (Ray's
DashboardAgent and RuntimeEnvAgent among them) stay alive and hold memory. The driver starts this
watchdog in its own session: it notes the driver's descendants every half second and, within a
second of the driver's end, terminates those still alive (then kills what is left after 3 s).
Only processes it saw descending from that driver are touched, identified by pid and start time,
so a reused pid is never hit.

    python -m regbench.watchdog DRIVER_PID
"""
from __future__ import annotations

import subprocess
import sys
import time

import psutil

POLL_S = 0.5


def watch(driver_pid: int) -> list[int]:
    """Wait for the driver's end, then end its descendants; returns the pids it ended."""
    try:
        driver = psutil.Process(driver_pid)
    except psutil.NoSuchProcess:
        return []
    seen: dict[int, psutil.Process] = {}
    while driver.is_running() and driver.status() != psutil.STATUS_ZOMBIE:
        try:
            seen.update((p.pid, p) for p in driver.children(recursive=True))
        except psutil.NoSuchProcess:
            break
        time.sleep(POLL_S)
    left = [p for p in seen.values() if p.is_running()]
    for process in list(left):
        try:
            left += process.children(recursive=True)
        except psutil.NoSuchProcess:
            pass
    left = [p for p in {p.pid: p for p in left}.values() if p.pid != psutil.Process().pid]
    for process in left:
        try:
            process.terminate()
        except psutil.NoSuchProcess:
            pass
    _, alive = psutil.wait_procs(left, timeout=3)
    for process in alive:
        try:
            process.kill()
        except psutil.NoSuchProcess:
            pass
    return [p.pid for p in left]


def start(driver_pid: int) -> subprocess.Popen:
    """The watchdog of ``driver_pid``, in a session of its own (a Ctrl-C at the terminal does not
    reach it), without output."""
    return subprocess.Popen([sys.executable, "-m", "regbench.watchdog", str(driver_pid)],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)


if __name__ == "__main__":
    watch(int(sys.argv[1]))
