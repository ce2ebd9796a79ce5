"""A tiny nbgrader course, graded with the real nbgrader, for the report tests.

The course has one assignment, ``week01``, whose function ``double(x)``
must return ``2 * x``. Two test cells check it: ``test_positive`` (1 point)
and ``test_negative`` (2 points). The students are:

- ``s01`` (山田 太郎): correct;
- ``s02`` (佐藤 花子) and ``s03`` (鈴木 一郎): return ``2 * abs(x)``, which
  passes ``test_positive`` and fails ``test_negative`` (the known mistake
  ``ABS_MISTAKE``);
- ``s04`` (高橋 次郎): left the stub, so both tests fail;
- ``s05`` (田中 三郎): enrolled, but submitted nothing.
"""

import os
import subprocess
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook
from nbgrader.api import Gradebook

from grading.report import Mistake

ASSIGNMENT = "week01"

STUDENTS = {
    "s01": ("太郎", "山田"),
    "s02": ("花子", "佐藤"),
    "s03": ("一郎", "鈴木"),
    "s04": ("次郎", "高橋"),
    "s05": ("三郎", "田中"),
}

SOLUTIONS = {
    "s01": "    return 2 * x",
    "s02": "    return 2 * abs(x)",
    "s03": "    return abs(x) * 2",
    "s04": None,
}

ABS_MISTAKE = Mistake(
    key="abs_mistake",
    label="絶対値を取っている",
    assignment=ASSIGNMENT,
    fails=("test_negative",),
    passes=("test_positive",),
)

SOURCE_CELLS = [
    (
        "def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION",
        {"grade": False, "grade_id": "double", "locked": False, "solution": True},
    ),
    (
        "assert double(3) == 6",
        {"grade": True, "grade_id": "test_positive", "locked": True, "points": 1},
    ),
    (
        "assert double(-3) == -6",
        {"grade": True, "grade_id": "test_negative", "locked": True, "points": 2},
    ),
]


def _nbgrader(course_root, *args):
    # The virtual environment's bin/ is on PATH, as nbgrader needs alembic.
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env["PATH"]
    subprocess.run(
        ["nbgrader", *args],
        cwd=course_root,
        env=env,
        check=True,
        capture_output=True,
        timeout=240,
    )


def _write_source(course_root):
    notebook = new_notebook()
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    for source, nbgrader in SOURCE_CELLS:
        cell = new_code_cell(source)
        cell.metadata["nbgrader"] = {"schema_version": 3, "task": False, **nbgrader}
        cell.metadata["nbgrader"].setdefault("solution", False)
        notebook.cells.append(cell)
    path = course_root / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    path.parent.mkdir(parents=True)
    nbformat.write(notebook, path)


def _write_submissions(course_root):
    released = course_root / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    for student_id, body in SOLUTIONS.items():
        notebook = nbformat.read(released, as_version=4)
        if body is not None:
            notebook.cells[0].source = f"def double(x):\n{body}"
        path = course_root / "submitted" / student_id / ASSIGNMENT / released.name
        path.parent.mkdir(parents=True)
        nbformat.write(notebook, path)


def build_tiny_course(course_root):
    """Create, release and autograde the tiny course in ``course_root``.

    Returns
    -------
    str
        SQLAlchemy URL of the course's gradebook.
    """
    course_root.mkdir(parents=True, exist_ok=True)
    (course_root / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        f"c.CourseDirectory.root = {str(course_root)!r}\n"
        'c.CourseDirectory.course_id = "tiny"\n',
        encoding="utf-8",
    )
    _write_source(course_root)
    _nbgrader(course_root, "generate_assignment", ASSIGNMENT)

    db_url = f"sqlite:///{course_root / 'gradebook.db'}"
    with Gradebook(db_url) as gradebook:
        for student_id, (first_name, last_name) in STUDENTS.items():
            gradebook.update_or_create_student(
                student_id, first_name=first_name, last_name=last_name
            )

    _write_submissions(course_root)
    _nbgrader(course_root, "autograde", ASSIGNMENT)
    return db_url
