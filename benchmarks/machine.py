"""A description of the machine and software that produced the figures."""

import os
import platform
import sys
from importlib import metadata

import numpy as np


def describe_machine():
    """Return the machine's description as (label, value) pairs.

    Returns
    -------
    list of tuple of (str, str)
        CPU model, cores, memory, operating system, Python, NumPy, the BLAS
        library that NumPy uses (from threadpoolctl) and package versions.
    """
    facts = [
        ("CPU", _cpu_model()),
        ("cores", str(os.cpu_count())),
        ("memory", _memory()),
        ("system", f"{platform.system()} {platform.release()}"),
        ("Python", platform.python_version()),
        ("NumPy", np.__version__),
        ("BLAS", _blas()),
    ]
    # OpenBLAS picks a slower kernel when this is set, so the figures depend on it.
    for name in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS"):
        if os.environ.get(name):
            facts.append((name, os.environ[name]))
    for package in ("nbgrader", "nbclient", "ipykernel"):
        facts.append((package, _version(package)))
    # Other work on the machine slows the measurements, though less their ratios.
    if hasattr(os, "getloadavg"):
        loads = ", ".join(f"{load:.2f}" for load in os.getloadavg())
        facts.append(("load average at start (1, 5, 15 min)", loads))
    return facts


def format_machine(facts, markdown=False):
    """Lay out the pairs of ``describe_machine`` as lines of text or a Markdown list."""
    if markdown:
        return "\n".join(f"- {label}: {value}" for label, value in facts)
    width = max(len(label) for label, _ in facts)
    return "\n".join(f"{label.ljust(width)}  {value}" for label, value in facts)


def _cpu_model():
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as stream:
            for line in stream:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory():
    try:
        with open("/proc/meminfo", encoding="utf-8") as stream:
            for line in stream:
                if line.startswith("MemTotal:"):
                    kibibytes = int(line.split()[1])
                    return f"{kibibytes / 2**20:.1f} GiB"
    except (OSError, ValueError):
        pass
    return "unknown"


def _blas():
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return f"unknown (threadpoolctl not installed; Python {sys.version.split()[0]})"
    pools = [pool for pool in threadpool_info() if pool.get("user_api") == "blas"]
    if not pools:
        return "none found by threadpoolctl"
    return "; ".join(
        f"{pool['internal_api']} {pool['version']}, "
        f"{pool.get('architecture', '?')} kernel, {pool['num_threads']} threads"
        for pool in pools
    )


def _version(package):
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"
