"""Helpers for the grading tests: a throwaway course folder and its students."""

import shutil
from pathlib import Path

import nbformat

from grading.students import answered_notebook, read_pair

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# What a course folder needs for grading; mymodules/data is a download cache.
COURSE_PARTS = ("source", "release", "mymodules", "grading", "nbgrader_config.py")


def copy_course(destination):
    """Copy the parts of this repository that grading needs into ``destination``.

    Returns
    -------
    pathlib.Path
        ``destination``, ready for ``python -m grading.pipeline --course-root``.
    """
    ignore = shutil.ignore_patterns("__pycache__", "data", ".ipynb_checkpoints")
    for part in COURSE_PARTS:
        source = PROJECT_ROOT / part
        if source.is_dir():
            shutil.copytree(source, destination / part, ignore=ignore)
        else:
            shutil.copy2(source, destination / part)
    return destination


def write_student(submissions, student, assignment, notebook, filename=None):
    """Write one student's notebook as ``<student>/<assignment>/<filename>``."""
    folder = submissions / student / assignment
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (filename or f"{assignment}.ipynb")
    if isinstance(notebook, str):
        path.write_text(notebook, encoding="utf-8")
    else:
        nbformat.write(notebook, path)
    return path


def answered(course_root, assignment, answers=None):
    """Return the release notebook answered with the solutions and ``answers``."""
    release, source = read_pair(course_root, assignment)
    return answered_notebook(release, source, answers)
