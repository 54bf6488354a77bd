"""Run independent pieces of work on a few threads: the plumbing behind ``chunked_attention``.

numpy releases Python's GIL inside matrix products and element-wise functions on large arrays,
so plain Python threads can keep several cores busy. Three details make that safe and fair:

- numpy's BLAS (OpenBLAS, usually) starts threads of its own for every product. With our threads
  *and* its threads, the cores are oversubscribed; so while our threads run, BLAS is limited to
  one thread (with ``threadpoolctl``, when it is installed and can see the BLAS library).
- numpy's floating-point error settings (``np.errstate``, and the function ``call`` mode calls)
  belong to the thread that set them; a new thread starts with the defaults. Each worker
  re-enters the caller's settings, so the result, warnings and errors do not depend on the number
  of threads.
- The first error stops the other workers after the item they are on, and reaches the caller.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import numpy as np

__all__ = ["available_cpus", "run_in_threads", "single_threaded_blas"]

# A container's CPU quota (Binder, JupyterHub, Docker): cgroup v2 writes "quota period" to one
# file ("max period" when unlimited), cgroup v1 uses two files (quota -1 when unlimited).
CGROUP_V2_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")
CGROUP_V1_QUOTA = Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us")
CGROUP_V1_PERIOD = Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us")


def cgroup_cpu_quota() -> float | None:
    """CPUs' worth of time a container may use (1.5 = one and a half), or None if unlimited."""
    try:
        quota, period = CGROUP_V2_CPU_MAX.read_text().split()[:2]
    except (OSError, ValueError):
        try:
            quota, period = CGROUP_V1_QUOTA.read_text(), CGROUP_V1_PERIOD.read_text()
        except OSError:
            return None
    try:
        quota, period = int(quota), int(period)
    except ValueError:  # "max": no quota
        return None
    return quota / period if quota > 0 and period > 0 else None


def available_cpus() -> int:
    """CPUs this process may use: its affinity mask, capped by a container's CPU quota.

    On a hub or Binder the machine may show 32 cores while the container may use one; threads
    beyond the quota would only queue for it.
    """
    if hasattr(os, "sched_getaffinity"):
        cpus = len(os.sched_getaffinity(0))
    else:
        cpus = os.cpu_count() or 1
    quota = cgroup_cpu_quota()
    if quota is not None:
        cpus = min(cpus, int(quota))  # 1.5 CPUs of quota: one thread
    return max(1, cpus)


# BLAS's thread count is one setting for the whole process. If two callers each limited and
# restored it, the second could "restore" the first one's limit; so the outermost caller alone
# limits and restores, counted under a lock.
_blas_lock = threading.Lock()
_blas_users = 0
_blas_limiter = None
_blas_controller = None  # made on first use: inspecting the loaded libraries takes about 1 ms


def _limit_blas_to_one_thread():
    """Limit numpy's BLAS to one thread; return what restores it (None if that is not possible)."""
    global _blas_controller
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # an environment without it: correct results, possibly oversubscribed
        return None
    if _blas_controller is None:
        _blas_controller = ThreadpoolController()
    return _blas_controller.limit(limits=1, user_api="blas")


@contextmanager
def single_threaded_blas():
    """A context in which numpy's BLAS uses one thread, restored when the last user leaves.

    Where ``threadpoolctl`` is missing or cannot see the BLAS library (Apple's Accelerate, for
    one), this does nothing: results stay the same, the cores may be oversubscribed.
    """
    global _blas_users, _blas_limiter
    with _blas_lock:
        if _blas_users == 0:
            _blas_limiter = _limit_blas_to_one_thread()
        _blas_users += 1
    try:
        yield
    finally:
        with _blas_lock:
            _blas_users -= 1
            if _blas_users == 0 and _blas_limiter is not None:
                _blas_limiter.restore_original_limits()
                _blas_limiter = None


def run_in_threads(make_worker: Callable, items: Sequence, workers: int) -> None:
    """Process ``items`` with ``workers`` threads; each thread calls ``make_worker()`` once.

    ``make_worker()`` returns a function that handles one item (and may keep buffers between
    items). Thread ``w`` takes items ``w, w + workers, w + 2 * workers, ...``. With
    ``workers == 1`` everything runs in the calling thread, BLAS untouched; so does everything
    when threads cannot be started (Pyodide in the browser, a process at its thread limit). The
    items must be independent: no two may write the same memory.

    Two callers at once with ``workers > 1`` work, but OpenBLAS itself can, rarely (about once in
    a few hundred overlaps, in our tests), keep the one-thread limit after both have restored it.
    """
    if workers == 1:
        work = make_worker()
        for item in items:
            work(item)
        return
    errstate = np.geterr()  # the caller's settings: a new thread would start from the defaults
    errcall = np.geterrcall()
    stop = threading.Event()
    # A thread pool hands a job to an idle thread if it has one, so without this the second job
    # could run on the first job's thread, after it: every job waits until all have a thread.
    together = threading.Barrier(workers)

    def run(share):
        together.wait()
        with np.errstate(call=errcall, **errstate):
            work = make_worker()
            for item in share:
                if stop.is_set():  # another worker failed: its error is what the caller sees
                    return
                try:
                    work(item)
                except BaseException:
                    stop.set()
                    raise

    with single_threaded_blas(), ThreadPoolExecutor(workers) as pool:
        try:
            jobs = [pool.submit(run, items[w::workers]) for w in range(workers)]
        except RuntimeError:  # "can't start new thread": Pyodide, or a process thread limit
            together.abort()  # the threads already started stop at the barrier, before any item
            jobs = None
        if jobs is not None:
            try:
                for job in jobs:
                    job.result()  # re-raises a worker's error here, in the caller's thread
            finally:
                stop.set()  # on an error or Ctrl-C, the others stop after their current item
                together.abort()  # and none waits for a job that never started
            return
    run_in_threads(make_worker, items, 1)  # no threads to be had: the same work, in this thread
