"""Start an IPython kernel with resource limits, for grading student notebooks.

nbgrader runs each submission in a kernel started from this file (see
``GRADING_KERNEL`` in nbgrader_config.py). The limits keep one submission from
taking the grading machine down with it: a runaway allocation raises
MemoryError in the student's cell instead of waking the out-of-memory killer,
and a runaway file write stops at a fixed size.

NOTE: these are resource limits, not isolation. Isolation comes from the
sandbox that nbgrader_config.py starts this kernel in (grading/sandbox.py).
"""

import resource
import sys
from pathlib import Path

# Virtual memory per kernel. The week-4 reference solution needs about 0.5 GiB
# of address space (NumPy, OpenBLAS buffers, the MNIST test split).
ADDRESS_SPACE_BYTES = 4 * 1024**3
# Largest file the kernel may write; notebooks here write none.
FILE_SIZE_BYTES = 64 * 1024**2


def limit_resources():
    """Lower the soft and hard limits of this process and its children.

    A hard limit that is already lower (the grading sandbox sets its own) is
    kept, because raising a hard limit fails.
    """
    for kind, value in (
        (resource.RLIMIT_AS, ADDRESS_SPACE_BYTES),
        (resource.RLIMIT_FSIZE, FILE_SIZE_BYTES),
        (resource.RLIMIT_CORE, 0),
    ):
        _, hard = resource.getrlimit(kind)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        resource.setrlimit(kind, (value, value))


if __name__ == "__main__":
    limit_resources()
    # Running this file put its folder first on sys.path; students must not
    # import from it.
    here = str(Path(__file__).resolve().parent)
    sys.path[:] = [entry for entry in sys.path if entry != here]

    from ipykernel import kernelapp

    kernelapp.launch_new_instance()
