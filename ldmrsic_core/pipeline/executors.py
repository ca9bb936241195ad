"""Where tile jobs run: in this thread, in a pool of threads, or on a Dask cluster.

Every runner has one operation, :meth:`TileRunner.map_ordered`: apply a picklable function to a
stream of argument tuples and yield the results in the stream's order, keeping a bounded
number of jobs in flight. The stream is pulled lazily in the calling thread, so reading the
next tiles overlaps the work on the previous ones, and memory stays bounded by ``ahead``::

    items ──pull──► [job k+ahead … job k+1] running ──► result k ──► caller (in order)

A job's result never depends on the runner: its model calls are made for the same tiles (one
job's batch: :meth:`TileRunner.map_batched` cuts the tile stream into batches of a fixed size,
whatever the jobs or workers) with the same torch thread count (:data:`JobSettings.threads`), so
the bytes written are the same for any number of jobs or workers. The batch size itself can
change float results (BENCHMARKS.md), hence bytes; decoded latents never depend on it.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ldmrsic_core import defaults
from ldmrsic_core.errors import InputError

if TYPE_CHECKING:
    import torch

#: How long to try reaching a Dask scheduler given by address.
SCHEDULER_TIMEOUT = "10s"
#: torch threads of every job's model calls, whatever the number of jobs or workers: the same
#: tile can come out with other bits on another thread count (measured with oneDNN: 1, 2 and 3
#: threads give three different results for the codec's transforms and the enhancer; see
#: benchmarks/pipeline_choices.py). More cores are used by running more jobs at once: one thread
#: each, because a job of two threads waits for both at every step, and next to another busy
#: program that made a 2048² compress 9× slower (BENCHMARKS.md, "The CPU path, 2026-12-02 (2)").
JOB_THREADS = 1


@dataclass(frozen=True)
class JobSettings:
    """How each job runs its model calls: intra-op threads (the same in every process)."""

    threads: int = JOB_THREADS

    def apply(self) -> None:
        import torch

        if torch.get_num_threads() != self.threads:
            torch.set_num_threads(self.threads)


def default_jobs() -> int:
    """Tiles in flight in one process: one per :data:`JOB_THREADS` cores, at least one."""
    return max(1, (os.cpu_count() or 1) // JOB_THREADS)


def resolve_tile_batch(tile_batch: int | None, device: torch.device) -> int:
    """Tiles per model call: ``tile_batch``, or by default :data:`defaults.TILE_BATCH_GPU` on a GPU and 1
    elsewhere (on the CPU a batch gains little and would change the bytes written)."""
    if tile_batch is None:
        return defaults.TILE_BATCH_GPU if device.type == "cuda" else 1
    if tile_batch < 1:
        raise InputError(f"--tile-batch {tile_batch} is invalid: use 1 or more")
    return tile_batch


def _run(settings: JobSettings, fn: Callable[..., Any], *args: Any) -> Any:
    settings.apply()
    return fn(*args)


class TileRunner:
    """Runs jobs in the calling thread (``jobs == 1``) or in a pool of ``jobs`` threads."""

    def __init__(self, jobs: int = 1, settings: JobSettings = JobSettings()):
        if jobs < 1:
            raise InputError(f"--jobs {jobs} is invalid: use 1 or more")
        self.jobs, self.settings = jobs, settings
        self._pool = ThreadPoolExecutor(jobs, thread_name_prefix="ldmrsic-job") if jobs > 1 else None

    @property
    def ahead(self) -> int:
        """Jobs kept in flight: enough to keep every worker busy while results are consumed."""
        return 2 * self.jobs

    def map_ordered(self, fn: Callable[..., Any], items: Iterable[tuple]) -> Iterator[Any]:
        """``fn(*args)`` for each ``args`` of ``items``, in order, at most :attr:`ahead` in flight."""
        if self._pool is None:
            for args in items:
                yield _run(self.settings, fn, *args)
            return
        pending: deque = deque()
        try:
            for args in items:
                pending.append(self._submit(fn, args))
                if len(pending) >= self.ahead:
                    yield self._result(pending.popleft())
            while pending:
                yield self._result(pending.popleft())
        finally:
            for job in pending:
                self._cancel(job)

    def map_batched(self, fn: Callable[[Any, list], list], settings: Any, items: Iterable[tuple],
                    size: int) -> Iterator[Any]:
        """``fn(settings, batch)`` for consecutive batches of at most ``size`` items, as one job each;
        yields each item's result in order (the batches depend only on ``size`` and the order)."""
        def batches() -> Iterator[tuple]:
            batch: list[tuple] = []
            for item in items:
                batch.append(item)
                if len(batch) == size:
                    yield settings, batch
                    batch = []
            if batch:
                yield settings, batch

        for results in self.map_ordered(fn, batches()):
            yield from results

    def _submit(self, fn: Callable[..., Any], args: tuple) -> Any:
        return self._pool.submit(_run, self.settings, fn, *args)

    def _result(self, job: Any) -> Any:
        return job.result()

    def _cancel(self, job: Any) -> None:
        job.cancel()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)


class DaskRunner(TileRunner):
    """Runs jobs as Dask tasks on a cluster's workers (each loads the models once, by name and hash)."""

    def __init__(self, client: Any, settings: JobSettings, own_cluster: Any = None):
        self.client, self._cluster, self.settings = client, own_cluster, settings
        self._pool = client
        self.jobs = max(1, sum(client.nthreads().values()))

    def _submit(self, fn: Callable[..., Any], args: tuple) -> Any:
        return self.client.submit(_run, self.settings, fn, *args, pure=False)

    def close(self) -> None:
        self.client.close()
        if self._cluster is not None:
            self._cluster.close()


@contextmanager
def open_runner(jobs: int | None = None, workers: int | None = None,
                scheduler: str | None = None) -> Iterator[TileRunner]:
    """A runner for the options ``--jobs`` (threads in this process), ``--workers`` (a local Dask
    cluster of that many worker processes) or ``--scheduler`` (an existing Dask cluster)."""
    if workers is not None and scheduler is not None:
        raise InputError("give either --workers (a local Dask cluster) or --scheduler (an existing one), not both")
    import torch

    threads = torch.get_num_threads()  # the inline runner sets the calling thread's; restored after
    if workers is None and scheduler is None:
        runner = TileRunner(default_jobs() if jobs is None else jobs)
    else:
        runner = _dask_runner(workers, scheduler)
    try:
        yield runner
    finally:
        runner.close()
        torch.set_num_threads(threads)


def _dask_runner(workers: int | None, scheduler: str | None) -> DaskRunner:
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise InputError("--workers and --scheduler need Dask: pip install 'ldmrsic-geo[cluster]'") from None
    if scheduler is not None:
        try:
            return DaskRunner(Client(scheduler, timeout=SCHEDULER_TIMEOUT), JobSettings())
        except (OSError, TimeoutError, ValueError) as exc:
            raise InputError(f"cannot reach the Dask scheduler at {scheduler} ({exc}); check the address "
                             "(e.g. tcp://host:8786) and that the scheduler runs") from None
    if workers < 1:
        raise InputError(f"--workers {workers} is invalid: use 1 or more")
    import dask

    # Dask starts workers with MALLOC_TRIM_THRESHOLD_ set, which switches off glibc's adaptive mmap
    # threshold: every large torch buffer is then mapped and unmapped, and convolutions run at half
    # speed (measured: 1.12 s instead of 0.61 s per 256² tile). Our workers start without it.
    environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ", {}))
    environ.pop("MALLOC_TRIM_THRESHOLD_", None)
    with dask.config.set({"distributed.nanny.pre-spawn-environ": environ}):
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
    return DaskRunner(Client(cluster), JobSettings(), own_cluster=cluster)
