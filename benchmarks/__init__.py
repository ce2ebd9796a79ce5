"""Benchmarks of what the course's users wait for; run ``python -m benchmarks.run``.

Each part times the project's code side by side with a floor (the least work
that produces the same result) or a peer (another common way to do it), in
interleaved rounds, and reports medians and their ratios. Ratios, not absolute
times, are the result, because the machines that run this are shared and noisy.
"""

import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
MYMODULES = PROJECT_ROOT / "mymodules"

# The helper modules are flat modules, imported the way the lecture imports them.
if str(MYMODULES) not in sys.path:
    sys.path.insert(0, str(MYMODULES))
