"""Ends the processes a grid's local Ray instance started once the grid's driver is gone.

``regbench grid`` starts Ray's servers and workers as its descendants. When the driver ends
without shutting Ray down (``kill -9``, a crash, a second Ctrl-C), some of them (Ray's
DashboardAgent and RuntimeEnvAgent among them) stay alive and hold memory. The driver starts this
watchdog in its own session before it starts Ray, and gives Ray a directory of its own (Ray's
temporary directory, which holds the instance's session directory). Within a second of the
driver's end, the watchdog terminates every process whose command line, working directory or open
files lie in that directory (then kills what is left after 3 s): all of the instance's processes,
however early the driver died and whoever their parent is by then, and never another's. Then it
removes the directory (Ray's logs and spilled objects), as the driver does when it ends in order.

    python -m regbench.watchdog DRIVER_PID DIRECTORY
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

import psutil

POLL_S = 0.5
ROUNDS = 3  # a process being ended may have started another


def watch(driver_pid: int, directory: str) -> list[int]:
    """Wait for the driver's end, then end the processes of ``directory`` and remove it; returns
    the pids it ended."""
    try:
        driver = psutil.Process(driver_pid)
        while driver.is_running() and driver.status() != psutil.STATUS_ZOMBIE:
            time.sleep(POLL_S)
    except psutil.NoSuchProcess:
        pass
    ended = []
    for _ in range(ROUNDS):
        found = members(directory)
        if not found:
            break
        end(found)
        ended += [p.pid for p in found]
    shutil.rmtree(directory, ignore_errors=True)
    return ended


def members(directory: str) -> list[psutil.Process]:
    """The live processes (this one aside) whose command line, working directory or open files
    lie in ``directory``."""
    inside = os.path.join(directory, "")
    found = []
    for process in psutil.process_iter():
        if process.pid == os.getpid():
            continue
        try:
            paths = [*process.cmdline(), process.cwd(), *(f.path for f in process.open_files())]
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        if any(inside in os.path.join(path, "") for path in paths):
            found.append(process)
    return found


def end(processes: list[psutil.Process]) -> None:
    """Terminate ``processes``, and kill those still alive 3 s later."""
    for process in processes:
        try:
            process.terminate()
        except psutil.NoSuchProcess:
            pass
    _, alive = psutil.wait_procs(processes, timeout=3)
    for process in alive:
        try:
            process.kill()
        except psutil.NoSuchProcess:
            pass


def start(driver_pid: int, directory: str) -> subprocess.Popen:
    """The watchdog of ``driver_pid`` and ``directory``, in a session of its own (a Ctrl-C at the
    terminal or a signal to the driver's process group does not reach it), without output."""
    return subprocess.Popen([sys.executable, "-m", "regbench.watchdog", str(driver_pid), directory],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)


if __name__ == "__main__":
    watch(int(sys.argv[1]), sys.argv[2])
