"""The local Dask cluster the Dask benchmarks run on."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any


@contextlib.contextmanager
def local_client(n_workers: int) -> Iterator[Any]:
    """A ``distributed.Client`` of a fresh ``LocalCluster`` of ``n_workers``
    single-threaded worker processes on this machine, once they have all started."""
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=n_workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            silence_logs=50,
        ) as cluster,
        Client(cluster) as client,
    ):
        client.wait_for_workers(n_workers, timeout=120)
        yield client
