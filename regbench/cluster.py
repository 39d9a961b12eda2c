"""Connecting to Ray: a local instance on 127.0.0.1, or an existing cluster (``--address``).

Ray is imported here, lazily, so that ``regbench run`` and ``list`` never pay for it. Before the
import, usage-stats reporting is switched off (``RAY_USAGE_STATS_ENABLED=0``, also in the workers'
environment) and, for a local instance or a cluster on loopback, Ray is kept on 127.0.0.1:
``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` stops Ray from replacing a loopback node address with the
machine's external one, so its servers bind to 127.0.0.1. The dashboard stays off.
"""
from __future__ import annotations

import os
import socket
import tempfile
from contextlib import chdir, contextmanager
from functools import partial

from .errors import RegbenchError
from .interrupt import reclaim

NO_USAGE_STATS = {"RAY_USAGE_STATS_ENABLED": "0"}


def is_loopback(address: str | None) -> bool:
    host = (address or "127.0.0.1").split("://")[-1].rsplit(":", 1)[0]
    return host == "localhost" or host.startswith("127.")


def reachable(address: str, timeout: float = 5.0) -> bool:
    """Whether ``HOST:PORT`` accepts a TCP connection (other address forms are left to Ray)."""
    host, _, port = address.split("://")[-1].rpartition(":")
    if not port.isdigit():
        return True
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
        return True
    except OSError:
        return False


def prepare_environment(address: str | None) -> None:
    """Environment for the driver and the Ray processes it starts; before Ray is imported."""
    os.environ.update(NO_USAGE_STATS)
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # Tune's compact status table
    os.environ["TUNE_DISABLE_SIGINT_HANDLER"] = "1"  # Ctrl-C is regbench's (regbench.interrupt)
    if is_loopback(address):
        os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"


@contextmanager
def ray_session(address: str | None = None, quiet: bool = False, **local_options):
    """Ray for the duration of the block: joins ``address``, else starts a local instance that
    uses this machine's CPUs and GPUs (``local_options`` go to ``ray.init``, e.g.
    ``num_cpus``, ``object_store_memory``). An already initialised Ray is used as it is."""
    prepare_environment(address)
    import ray
    if ray.is_initialized():
        yield ray
        return
    options = dict(logging_level="error" if quiet else "warning", log_to_driver=not quiet,
                   runtime_env={"env_vars": dict(NO_USAGE_STATS)})
    if is_loopback(address):
        options["_node_ip_address"] = "127.0.0.1"
    if quiet:  # the driver prints the raylet's messages (a worker died, ...) even without log_to_driver
        from ray._private import worker
        worker.print_to_stdstream = lambda *args, **kwargs: None
    if address is None:
        options.update(include_dashboard=False, **local_options)
    elif not reachable(address):  # ray.init would retry for minutes
        raise RegbenchError(f"cannot reach a Ray cluster at {address} (start one with `ray start "
                            f"--head`, and give the address it prints)")
    # Ray puts the driver's working directory on its workers' sys.path, where a `matplotlib.py`
    # lying there would shadow the library in every trial; Ray starts in an empty directory
    # instead (plugins are imported from the working directory explicitly, see `load_plugin`).
    # A local instance keeps its session files beside it: its watchdog knows all of the
    # instance's processes by that directory (see regbench.watchdog)
    with tempfile.TemporaryDirectory(prefix="regbench-ray-", dir=os.environ.get("RAY_TMPDIR"),
                                     ignore_cleanup_errors=True) as own:
        empty = os.path.join(own, "empty")
        os.mkdir(empty)
        if address is None:  # processes of our own: ended even if this driver is killed
            from .watchdog import start
            start(os.getpid(), own)
            options["_temp_dir"] = own
        with chdir(empty), servers_in_sessions_of_their_own():
            ray.init(address=address or "local", **options)  # "local": never attach to one found here
        reclaim()  # Ctrl-C and SIGTERM stay regbench's
        try:
            yield ray
        finally:
            ray.shutdown()


@contextmanager
def servers_in_sessions_of_their_own():
    """The processes Ray starts in the block (its servers, and through the raylet its agents and
    workers) get sessions of their own: a SIGTERM to the driver's process group (what `timeout`, a
    container stop or a batch scheduler sends) reaches the driver alone, which then shuts Ray down
    in order, instead of killing Ray's servers under the driver."""
    from ray._private import services
    popen = services.ConsolePopen
    services.ConsolePopen = partial(popen, start_new_session=True)
    try:
        yield
    finally:
        services.ConsolePopen = popen
