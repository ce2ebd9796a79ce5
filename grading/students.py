"""Make student notebooks from the released ones, for the demo class and tests.

A simulated student starts from the notebook in ``release/`` (what a real
student downloads), and answers each answer (solution) cell either with the
instructor's solution from ``source/`` or with code of their own.
"""

import copy

import nbformat

SOLUTION_MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")


def solution_code(source_cell):
    """Return the instructor's answer with the solution markers removed.

    Parameters
    ----------
    source_cell : nbformat.NotebookNode
        An answer cell of a notebook in ``source/``.

    Returns
    -------
    str
    """
    return "\n".join(
        line
        for line in source_cell.source.splitlines()
        if line.strip() not in SOLUTION_MARKERS
    )


def answered_notebook(release, source, answers=None):
    """Return a copy of ``release`` whose answer cells are filled in.

    Parameters
    ----------
    release : nbformat.NotebookNode
        The student version of the notebook.
    source : nbformat.NotebookNode
        The instructor's version, whose solutions fill the answer cells.
    answers : dict of str to str, optional
        Code that replaces the answer of the cell with that ``grade_id``
        (a student's own, possibly wrong, answer).

    Returns
    -------
    nbformat.NotebookNode
    """
    answers = answers or {}
    unknown = set(answers) - {
        cell.metadata.get("nbgrader", {}).get("grade_id") for cell in release.cells
    }
    if unknown:
        raise KeyError(f"no answer cells named {sorted(unknown)} in the notebook")

    solutions = {
        cell.metadata["nbgrader"]["grade_id"]: solution_code(cell)
        for cell in source.cells
        if cell.metadata.get("nbgrader", {}).get("solution")
    }
    notebook = copy.deepcopy(release)
    for cell in notebook.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.metadata.get("nbgrader", {}).get("solution"):
            cell.source = answers.get(grade_id, solutions[grade_id])
    return notebook


def read_pair(course_root, assignment):
    """Return the release and source notebooks of a one-notebook assignment."""
    notebook = f"{assignment}.ipynb"
    release = nbformat.read(course_root / "release" / assignment / notebook, 4)
    source = nbformat.read(course_root / "source" / assignment / notebook, 4)
    return release, source
