"""nbgrader settings for this course; the repository root is the course root.

Run nbgrader's commands from the repository root (``nbgrader generate_assignment
week01``, ``nbgrader autograde week01``, ...), or run the whole pipeline on the
demo class with ``python -m grading.pipeline``.
"""

import os
import sys
from pathlib import Path

COURSE_ROOT = Path(__file__).resolve().parent

# The nbgrader command does not put the course root on sys.path, and the
# sandbox and feedback settings below come from its grading package.
sys.path.insert(0, str(COURSE_ROOT))

from grading.sandbox import autograde_preprocessors  # noqa: E402
from grading.sandbox_feedback import feedback_preprocessors  # noqa: E402

# The Jupyter kernel that runs student code during `nbgrader autograde`.
# "course-grading" is python3 with memory and file-size limits
# (grading/jupyter/kernels/course-grading); "python3" is the plain kernel.
GRADING_KERNEL = "course-grading"

# Seconds that one cell may run before it is interrupted and marked as an
# error. The slowest reference cell (week 4, accuracy on 10,000 images with
# several batch sizes) takes about 1 s on a 2-core machine, so 30 s leaves
# room for a slow machine and still stops an infinite loop quickly.
# COURSE_CELL_TIMEOUT overrides it, for example in tests.
CELL_TIMEOUT_SECONDS = int(os.environ.get("COURSE_CELL_TIMEOUT", "30"))

c = get_config()  # noqa: F821 (provided by traitlets when it loads this file)

c.CourseDirectory.root = str(COURSE_ROOT)
c.CourseDirectory.course_id = "nn-output-layer"

# Kernels listed under grading/jupyter are found by name, next to the usual ones.
os.environ["JUPYTER_PATH"] = os.pathsep.join(
    filter(
        None, [str(COURSE_ROOT / "grading" / "jupyter"), os.environ.get("JUPYTER_PATH")]
    )
)
c.Execute.kernel_name = GRADING_KERNEL
c.Execute.timeout = CELL_TIMEOUT_SECONDS
c.Execute.interrupt_on_timeout = True

# Every grading kernel runs in a bubblewrap sandbox (grading/sandbox.py): it
# sees only its own submission, mymodules and the data, read-only, has no
# network, and has memory, CPU time, process and file limits. Where no sandbox
# can be created, grading stops unless COURSE_ALLOW_UNSANDBOXED=1 is set.
c.Autograde.autograde_preprocessors = autograde_preprocessors()

# Student output kept in the graded notebook and the feedback: enough for
# a traceback and a few printed arrays, not a flood.
c.LimitOutput.max_lines = 200
c.LimitOutput.max_traceback = 40

# What a student sees where a solution was removed. Its message is the error
# that each test cell of an unanswered notebook shows.
c.ClearSolutions.code_stub = {
    "python": (
        "# ここにコードを書いてください\n"
        'raise NotImplementedError("まだ答えを書いていません。答えのセルの '
        'raise NotImplementedError の行を消して、答えを書いてください。")'
    )
}
c.ClearSolutions.text_stub = "ここに答えを書いてください。"

# Put back test cells that a student deleted; edited test cells are always
# restored from the gradebook, because they are read-only (locked) cells.
c.OverwriteCells.add_missing_cells = True

# Feedback shows the student's code and results, but neither the hidden test
# code nor the tracebacks that quote it (grading/sandbox_feedback.py).
c.GenerateFeedback.preprocessors = feedback_preprocessors()
