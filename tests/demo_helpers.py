"""The demo class graded by the real pipeline, shared by the report and browser tests.

Grading the demo class (``demo/submissions``) runs ``python -m
grading.pipeline`` on a copy of the course, which took 1.5 to 2 minutes on
a 2-core machine. So it runs once per pytest run, and every test module
that uses it gets the same course folder.
"""

import os
import shutil
import subprocess
import sys

from pipeline_helpers import PROJECT_ROOT, copy_course

# The known mistakes of the demo class (grading/demo_class.py), keyed by
# grading.report.Mistake.key: the students whose submissions contain them.
DEMO_MISTAKES = {
    "softmax_overflow": ["baba", "endo"],
    "softmax_whole_batch": ["chiba"],
    "softmax_global_max": [],
    "softmax_in_place": [],
    "normalize_in_place": [],
    "argmax_axis": [],
    "partial_batch": ["chiba"],
}

DEMO_STUDENTS = ("aoki", "baba", "chiba", "doi", "endo", "fujii")
# The students of demo/submissions/week03.zip: LMS participant number (the
# student id) to the name in the archive.
DEMO_ARCHIVE_STUDENTS = {"20001": "Hirano Ken", "20002": "ishii"}

_graded_courses = {}


def graded_demo_course(tmp_path_factory, data_dir):
    """Return a course folder in which the demo class has been autograded.

    The first call copies the course and the demo class into a temporary
    folder and runs the grading pipeline there; later calls in the same
    pytest run return the same folder.

    Parameters
    ----------
    tmp_path_factory : pytest.TempPathFactory
    data_dir : pathlib.Path
        Folder with the MNIST test split and ``sample_weight.pkl``, which
        the week 3 and week 4 tests read through ``COURSE_DATA_DIR``.

    Returns
    -------
    pathlib.Path
        The course root, with ``gradebook.db``, ``autograded/`` and the
        other folders of nbgrader's layout.
    """
    if "demo" not in _graded_courses:
        course_root = copy_course(tmp_path_factory.mktemp("demo-course"))
        shutil.copytree(PROJECT_ROOT / "demo", course_root / "demo")
        env = dict(os.environ, COURSE_DATA_DIR=str(data_dir))
        command = [sys.executable, "-m", "grading.pipeline"]
        command += ["--course-root", str(course_root)]
        completed = subprocess.run(
            command,
            cwd=PROJECT_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        if completed.returncode != 0:
            raise RuntimeError(
                "grading the demo class failed:\n" + completed.stdout + completed.stderr
            )
        _graded_courses["demo"] = course_root
    return _graded_courses["demo"]
