"""Run background jobs on a Dask distributed cluster (`TWIN_DASK_SCHEDULER`) instead of a local
process pool, for work one machine cannot carry: tiling a whole territory, flood runs.

A Dask worker runs the same entry point as a local pool process (`twin.jobs._run_in_worker`),
so the job row stays the only shared state and the web servers stay stateless. That asks of
every worker machine:
- the `twin` package (same version) importable, with its GDAL/SpatiaLite dependencies;
- the server's database URL reachable from there: PostGIS, since a SpatiaLite file is only
  shared by processes of one machine;
- the data directory (`TWIN_DATA_DIR`: tile store and uploads) mounted at the same absolute
  path, because jobs receive file paths, not file contents.

A scheduler that cannot be reached at start-up is logged as an error and the server falls back
to its local pool: jobs still run (slower), and the API, viewer and sensors stay up, as they do
when the MQTT broker is down.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Executor, Future
from concurrent.futures import wait as futures_wait
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from distributed import Client

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 10.0


class DaskExecutor(Executor):
    """A `concurrent.futures` executor over a Dask client that also owns (and closes) it."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self._inner = client.get_executor(pure=False)  # each job is new work, never deduplicated
        # Dask forgets a task whose futures are all dropped, and the runner drops them: hold
        # each one until it is done, or a queued job would never start.
        self._held: set[Future[Any]] = set()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future = self._inner.submit(fn, *args, **kwargs)
        self._held.add(future)
        future.add_done_callback(self._held.discard)
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Close the client: its queued jobs are dropped (they stay 'queued' in the job table
        and `recover()` fails them at the next start); running ones finish on their worker."""
        if cancel_futures:
            for future in list(self._held):
                future.cancel()
        elif wait:
            futures_wait(list(self._held))
        self.client.close()


def connect(address: str) -> DaskExecutor | None:
    """An executor on the scheduler at `address`, or None (logged) when it cannot be reached."""
    from distributed import Client  # imported here: a second or so that local-pool servers skip

    try:
        client = Client(address, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
    except OSError as exc:
        log.error(
            "Dask scheduler %s unreachable (%s): background jobs run in the local process pool",
            address,
            exc,
        )
        return None
    workers = len(client.scheduler_info().get("workers", {}))
    log.info("background jobs run on Dask scheduler %s (%d workers now)", address, workers)
    return DaskExecutor(client)
