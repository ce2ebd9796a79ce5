"""Interleaved timing of a measurement next to its floor and peers."""

import gc
import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

# A timed sample shorter than this repeats its call, as timeit's autorange does,
# so that the clock's resolution and one-off stalls weigh less.
MIN_SAMPLE_SECONDS = 0.02


@dataclass(frozen=True)
class Case:
    """One thing to time.

    Attributes
    ----------
    name : str
        Key of the case in the returned timings.
    run : callable
        The timed call, without arguments.
    setup : callable or None
        An untimed call before every timed call, for example to empty a cache.
        A case with a setup is called once per sample.
    """

    name: str
    run: Callable[[], object]
    setup: Callable[[], object] | None = None


def time_interleaved(cases, repeats, warmup=1):
    """Time the cases in alternating rounds and return seconds per call.

    Every round calls each case once (or a few times in a row when one call is
    shorter than ``MIN_SAMPLE_SECONDS``), so slow drifts of the machine affect
    all cases alike. The order of the cases rotates from round to round.

    Parameters
    ----------
    cases : list of Case
        The measurements, floors and peers to compare.
    repeats : int
        Timed rounds, at least 1.
    warmup : int
        Untimed rounds first, which also choose the calls per sample. With 0,
        every sample is a single call.

    Returns
    -------
    dict of str to list of float
        Seconds per call of each case, one value per round.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")

    calls = {case.name: 1 for case in cases}
    for _ in range(warmup):
        for case in cases:
            seconds = _time_sample(case, 1)
            if case.setup is None and seconds > 0:
                wanted = math.ceil(MIN_SAMPLE_SECONDS / seconds)
                calls[case.name] = max(calls[case.name], min(wanted, 1000))

    samples = {case.name: [] for case in cases}
    for round_index in range(repeats):
        shift = round_index % len(cases)
        for case in cases[shift:] + cases[:shift]:
            samples[case.name].append(_time_sample(case, calls[case.name]))
    return samples


def _time_sample(case, calls):
    if case.setup is not None:
        case.setup()
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter()
        for _ in range(calls):
            case.run()
        elapsed = time.perf_counter() - start
    finally:
        gc.enable()
    return elapsed / calls


def median(values):
    """Return the median of a list of seconds."""
    return statistics.median(values)
