"""Shared test set-up: a headless matplotlib backend, seeded randomness, figures closed after each test."""

import os

os.environ.setdefault("MPLBACKEND", "Agg")
# One BLAS thread: tests (and the notebook kernels nbval starts, which inherit this) run several
# processes on a 2-core machine; oversubscribed OpenBLAS threads made them 3-5x slower. Timings live
# in benchmarks/, which do not use this setting.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import settings  # noqa: E402

# Property tests: enough examples to find bugs, bounded so the suite stays fast on 2 cores.
settings.register_profile("course", max_examples=60, deadline=None, derandomize=True)
settings.load_profile("course")


@pytest.fixture
def no_warnings():
    """Turn every warning into an error for the duration of a test (overflow, divide by zero...)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


@pytest.fixture(autouse=True)
def _seed_and_close_figures():
    """Seed numpy's legacy global RNG and close every figure a test opened."""
    np.random.seed(0)  # noqa: NPY002 - seeds any legacy np.random use in code under test
    yield
    import sys

    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")
