"""Hostile week-1 submissions graded by the course's own pipeline.

``python -m grading.pipeline`` grades a copy of this course (its real
``source/week01``, ``nbgrader_config.py`` and ``mymodules``) with the
sandbox that ``nbgrader_config.py`` turns on. Next to the reference answer,
three submissions attack the grader from inside the answer cell.
"""

import hashlib
import os
import re
import sqlite3
import subprocess
import sys

import nbformat
import pytest
from pipeline_helpers import copy_course, write_student
from sandbox_helpers import ConnectionCounter, cell_outputs_text, require_sandbox

from grading.pipeline import read_scores
from grading.students import answered_notebook, read_pair, solution_code

pytestmark = pytest.mark.slow

ASSIGNMENT = "week01"
ANSWER_CELL = "identity_function"

GRADEBOOK_WRITER = """
import sqlite3
from pathlib import Path

course = Path.cwd().parents[2]
try:
    with sqlite3.connect(course / "gradebook.db") as database:
        database.execute("UPDATE grade SET manual_score = 100, auto_score = 100")
    print("gradebook: updated")
except sqlite3.Error as error:
    print("gradebook:", error)
for target in course.glob("source/*/*.ipynb"):
    try:
        with open(target, "a") as stream:
            stream.write("changed")
        print("written:", target)
    except OSError as error:
        print("not written:", target, type(error).__name__)
"""

SOURCE_READER = """
from pathlib import Path

course = Path.cwd().parents[2]
found = [path for path in course.glob("source/**/*") if path.is_file()]
for path in found:
    print(path.read_text())
for name in ("gradebook.db", "nbgrader_config.py"):
    try:
        print((course / name).read_bytes())
    except OSError as error:
        print(name, type(error).__name__)
print("source files found:", len(found))
"""

NETWORK_CLIENT = """
import socket

try:
    socket.create_connection(("127.0.0.1", {port}), timeout=5).close()
    print("connected")
except OSError as error:
    print("not connected:", type(error).__name__)
"""


def hidden_test_names(source, release):
    """Return the names that only the hidden tests of ``source`` contain.

    Names (not whole lines) are compared because the feedback's HTML splits
    highlighted code into tokens.
    """
    released_text = "\n".join(cell.source for cell in release.cells)
    names = set()
    for cell in source.cells:
        regions = re.findall(
            r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS", cell.source, re.S
        )
        for region in regions:
            names.update(re.findall(r"[A-Za-z_][A-Za-z0-9_]{5,}", region))
    return sorted(name for name in names if name not in released_text)


def file_digests(folder):
    """Return ``{path: sha256}`` of every file below ``folder``."""
    return {
        str(path): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


@pytest.fixture(scope="module")
def pipeline_run(tmp_path_factory, real_data_dir):
    """Run the pipeline once on week 1 with honest and hostile students."""
    require_sandbox()
    course = copy_course(tmp_path_factory.mktemp("sandbox-pipeline"))
    release, source = read_pair(course, ASSIGNMENT)
    solution = next(
        solution_code(cell)
        for cell in source.cells
        if cell.metadata.get("nbgrader", {}).get("grade_id") == ANSWER_CELL
    )
    server = ConnectionCounter()
    attacks = {
        "gradebook_writer": GRADEBOOK_WRITER,
        "source_reader": SOURCE_READER,
        "network_client": NETWORK_CLIENT.format(port=server.port),
    }

    submissions = course / "class"
    write_student(
        submissions, "reference", ASSIGNMENT, answered_notebook(release, source)
    )
    for student, attack in attacks.items():
        answers = {ANSWER_CELL: solution + "\n" + attack}
        notebook = answered_notebook(release, source, answers)
        write_student(submissions, student, ASSIGNMENT, notebook)

    source_before = file_digests(course / "source")
    environment = dict(os.environ, COURSE_DATA_DIR=str(real_data_dir))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "grading.pipeline",
            "--course-root",
            str(course),
            "--submissions",
            str(submissions),
            "--assignments",
            ASSIGNMENT,
        ],
        cwd=course,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
    )
    server.close()
    return {
        "course": course,
        "result": result,
        "hidden_names": hidden_test_names(source, release),
        "source_before": source_before,
        "source_after": file_digests(course / "source"),
        "server": server,
    }


def names_in(names, text):
    """Return the ``names`` that occur in ``text`` as whole words."""
    return [name for name in names if re.search(rf"\b{re.escape(name)}\b", text)]


def graded_outputs(course, student):
    """Return the outputs of ``student``'s autograded week-1 notebook."""
    path = course / "autograded" / student / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    return cell_outputs_text(nbformat.read(path, as_version=4))


def feedback_html(course, student):
    """Return ``student``'s week-1 feedback page."""
    path = course / "feedback" / student / ASSIGNMENT / f"{ASSIGNMENT}.html"
    return path.read_text(encoding="utf-8")


def test_pipeline_succeeds(pipeline_run):
    assert pipeline_run["result"].returncode == 0, pipeline_run["result"].stdout


def test_pipeline_grades_everyone_fully(pipeline_run):
    scores, max_scores = read_scores(pipeline_run["course"])
    full = max_scores[ASSIGNMENT]
    students = ("reference", "gradebook_writer", "source_reader", "network_client")
    expected = {(student, ASSIGNMENT): (full, full) for student in students}
    assert scores == expected


def test_pipeline_writer_sets_no_manual_score(pipeline_run):
    database_path = pipeline_run["course"] / "gradebook.db"
    with sqlite3.connect(database_path) as database:
        manual = database.execute(
            "SELECT COUNT(*) FROM grade WHERE manual_score IS NOT NULL"
        ).fetchone()[0]
    assert manual == 0


def test_pipeline_writer_changes_no_source(pipeline_run):
    assert pipeline_run["source_after"] == pipeline_run["source_before"]


def test_pipeline_reader_finds_no_source(pipeline_run):
    outputs = graded_outputs(pipeline_run["course"], "source_reader")
    assert "source files found: 0" in outputs


def test_pipeline_hidden_tests_have_names(pipeline_run):
    assert pipeline_run["hidden_names"] != []


def test_pipeline_reader_output_has_no_hidden_test(pipeline_run):
    outputs = graded_outputs(pipeline_run["course"], "source_reader")
    assert names_in(pipeline_run["hidden_names"], outputs) == []


def test_pipeline_feedback_has_no_hidden_test(pipeline_run):
    html = feedback_html(pipeline_run["course"], "source_reader")
    assert names_in(pipeline_run["hidden_names"], html) == []


def test_pipeline_instructor_sees_hidden_test(pipeline_run):
    path = pipeline_run["course"] / "autograded" / "reference" / ASSIGNMENT
    text = (path / f"{ASSIGNMENT}.ipynb").read_text(encoding="utf-8")
    shown = names_in(pipeline_run["hidden_names"], text)
    assert shown == pipeline_run["hidden_names"]


def test_pipeline_server_gets_no_connection(pipeline_run):
    assert pipeline_run["server"].accepted == 0


def test_pipeline_client_not_connected(pipeline_run):
    outputs = graded_outputs(pipeline_run["course"], "network_client")
    assert "not connected: " in outputs
