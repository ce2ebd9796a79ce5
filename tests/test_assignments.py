"""The graded assignments: student versions, points and the visible tests.

The visible tests are run the way a student runs them, in a plain python3
kernel without nbgrader, so they work in Colab and local Jupyter alike.
"""

import json
import re

import nbformat
import pytest
from nbclient import NotebookClient
from pipeline_helpers import PROJECT_ROOT, answered, copy_course

from grading.pipeline import ASSIGNMENTS, generate_release
from grading.students import SOLUTION_MARKERS, read_pair

HIDDEN_MARKERS = ("BEGIN HIDDEN TESTS", "END HIDDEN TESTS")


def _test_cells(notebook):
    return [
        cell
        for cell in notebook.cells
        if cell.metadata.get("nbgrader", {}).get("grade")
    ]


def _solution_lines(source_notebook):
    """Return the lines between the solution markers of every answer cell."""
    lines = []
    for cell in source_notebook.cells:
        inside = False
        for line in cell.source.splitlines():
            if SOLUTION_MARKERS[0] in line:
                inside = True
            elif SOLUTION_MARKERS[1] in line:
                inside = False
            elif inside and len(line.strip()) > 12:
                lines.append(line.strip())
    return lines


def _hidden_lines(source_notebook):
    """Return the hidden test lines that appear nowhere outside hidden regions."""
    hidden = []
    visible = []
    for cell in source_notebook.cells:
        inside = False
        for line in cell.source.splitlines():
            if HIDDEN_MARKERS[0] in line:
                inside = True
            elif HIDDEN_MARKERS[1] in line:
                inside = False
            else:
                (hidden if inside else visible).append(line.strip())
    return [line for line in hidden if len(line) > 20 and line not in set(visible)]


def _run(notebook, real_data_dir, monkeypatch):
    """Run a notebook top to bottom in a python3 kernel from the repository."""
    monkeypatch.setenv("COURSE_DATA_DIR", str(real_data_dir))
    client = NotebookClient(
        notebook,
        kernel_name="python3",
        timeout=120,
        allow_errors=True,
        resources={"metadata": {"path": str(PROJECT_ROOT / "release")}},
    )
    client.execute()
    return notebook


def _errors(notebook):
    return [
        output
        for cell in notebook.cells
        for output in cell.get("outputs", [])
        if output.output_type == "error"
    ]


def _error_messages(notebook):
    """Return the error message of each failed test cell, keyed by grade_id."""
    return {
        cell.metadata["nbgrader"]["grade_id"]: output.evalue
        for cell in _test_cells(notebook)
        for output in cell.outputs
        if output.output_type == "error"
    }


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_has_no_hidden_tests(assignment):
    release, source = read_pair(PROJECT_ROOT, assignment)
    text = nbformat.writes(release)
    leaked = [line for line in _hidden_lines(source) if line in text]
    assert leaked == []


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_has_no_solutions(assignment):
    release, source = read_pair(PROJECT_ROOT, assignment)
    text = nbformat.writes(release)
    leaked = [line for line in _solution_lines(source) if line in text]
    assert leaked == []


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_source_has_hidden_tests(assignment):
    _, source = read_pair(PROJECT_ROOT, assignment)
    without_hidden = [
        cell.metadata["nbgrader"]["grade_id"]
        for cell in _test_cells(source)
        if HIDDEN_MARKERS[0] not in cell.source
    ]
    assert without_hidden == []


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_points_match_table(assignment):
    _, source = read_pair(PROJECT_ROOT, assignment)
    total = sum(cell.metadata["nbgrader"]["points"] for cell in _test_cells(source))
    table = source.cells[1].source
    stated = re.search(r"\| 合計 \| *(?:\| *)?(\d+) \|", table)
    assert stated is not None
    assert int(stated.group(1)) == total


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_test_cells_end_without_number(assignment):
    # nbgrader reads a bare number on a test cell's last line as its score.
    _, source = read_pair(PROJECT_ROOT, assignment)
    last_lines = [
        cell.source.strip().splitlines()[-1].strip() for cell in _test_cells(source)
    ]
    assert [line for line in last_lines if re.fullmatch(r"[-+0-9.eE]+", line)] == []


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_ok_lines_mention_grading(assignment):
    # A hidden test in the same cell may still fail after the visible OK line.
    _, source = read_pair(PROJECT_ROOT, assignment)
    ok_lines = [
        line
        for cell in _test_cells(source)
        for line in cell.source.splitlines()
        if line.startswith('print("OK:')
    ]
    assert len(ok_lines) == len(_test_cells(source))
    assert [line for line in ok_lines if "採点" not in line] == []


@pytest.mark.slow
def test_release_up_to_date(tmp_path):
    course = copy_course(tmp_path / "course")
    generate_release(course, ASSIGNMENTS)
    stale = [
        assignment
        for assignment in ASSIGNMENTS
        if json.loads(
            (course / "release" / assignment / f"{assignment}.ipynb").read_text()
        )
        != json.loads(
            (PROJECT_ROOT / "release" / assignment / f"{assignment}.ipynb").read_text()
        )
    ]
    assert stale == [], "run: python -m grading.pipeline (or generate_release)"


@pytest.mark.slow
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_visible_tests_pass_solution(assignment, real_data_dir, monkeypatch):
    notebook = _run(answered(PROJECT_ROOT, assignment), real_data_dir, monkeypatch)
    assert _errors(notebook) == []


@pytest.mark.slow
def test_visible_tests_print_ok(real_data_dir, monkeypatch):
    notebook = _run(answered(PROJECT_ROOT, "week02"), real_data_dir, monkeypatch)
    printed = "".join(
        output.get("text", "")
        for cell in _test_cells(notebook)
        for output in cell.outputs
    )
    assert printed.count("OK:") == len(_test_cells(notebook))
    assert printed.count("公開テストに合格しました") == len(_test_cells(notebook))


@pytest.mark.slow
def test_visible_tests_explain_naive(real_data_dir, monkeypatch):
    naive = (
        "import numpy as np\n\ndef softmax(x):\n"
        "    return np.exp(x) / np.sum(np.exp(x), axis=-1, keepdims=True)"
    )
    notebook = answered(PROJECT_ROOT, "week02", {"softmax": naive})
    notebook = _run(notebook, real_data_dir, monkeypatch)
    messages = [error.evalue for error in _errors(notebook)]
    assert any("exp を計算する前に最大値を引いてください" in text for text in messages)


@pytest.mark.slow
def test_visible_tests_explain_blank(real_data_dir, monkeypatch):
    release, _ = read_pair(PROJECT_ROOT, "week01")
    notebook = _run(release, real_data_dir, monkeypatch)
    messages = [error.evalue for error in _errors(notebook)]
    assert any("変数 answer_a がありません" in text for text in messages)


@pytest.mark.slow
def test_visible_tests_explain_keepdims(real_data_dir, monkeypatch):
    without_keepdims = (
        "import numpy as np\n\ndef softmax(x):\n"
        "    exp_x = np.exp(x - np.max(x, axis=-1))\n"
        "    return exp_x / np.sum(exp_x, axis=-1)"
    )
    notebook = answered(PROJECT_ROOT, "week02", {"softmax": without_keepdims})
    messages = _error_messages(_run(notebook, real_data_dir, monkeypatch))
    for grade_id in ("test_batch_rows", "test_batch_row_scales"):
        assert "keepdims=True" in messages[grade_id]
        assert "shape (2, 3)" in messages[grade_id]
        assert "shapes (2,3) (2,)" in messages[grade_id]


@pytest.mark.slow
def test_visible_tests_explain_naive_batch(real_data_dir, monkeypatch):
    naive = (
        "import numpy as np\n\ndef softmax(x):\n"
        "    return np.exp(x) / np.sum(np.exp(x), axis=-1, keepdims=True)"
    )
    notebook = answered(PROJECT_ROOT, "week02", {"softmax": naive})
    messages = _error_messages(_run(notebook, real_data_dir, monkeypatch))
    message = messages["test_batch_row_scales"]
    assert "各行の最大値を引いてください" in message
    assert "バッチ全体の最大値ではなく" not in message


@pytest.mark.slow
def test_visible_tests_explain_whole_batch_max(real_data_dir, monkeypatch):
    whole_batch_max = (
        "import numpy as np\n\ndef softmax(x):\n"
        "    exp_x = np.exp(x - np.max(x))\n"
        "    return exp_x / np.sum(exp_x, axis=-1, keepdims=True)"
    )
    notebook = answered(PROJECT_ROOT, "week02", {"softmax": whole_batch_max})
    messages = _error_messages(_run(notebook, real_data_dir, monkeypatch))
    assert "バッチ全体の最大値ではなく" in messages["test_batch_row_scales"]


@pytest.mark.slow
def test_visible_tests_explain_argmax_axis(real_data_dir, monkeypatch):
    argmax_axis_0 = (
        "def accuracy(network, x, t, batch_size=100):\n"
        "    correct = 0\n"
        "    for start in range(0, len(x), batch_size):\n"
        "        y = predict(network, x[start : start + batch_size])\n"
        "        predicted = np.argmax(y, axis=0)\n"
        "        correct += np.sum(predicted == t[start : start + batch_size])\n"
        "    return correct / len(x)"
    )
    notebook = answered(PROJECT_ROOT, "week04", {"accuracy": argmax_axis_0})
    messages = _error_messages(_run(notebook, real_data_dir, monkeypatch))
    for grade_id in ("test_accuracy_lecture", "test_accuracy_partial_batch"):
        assert "np.argmax(y, axis=1)" in messages[grade_id]
        assert "shapes (10,) (100,)" in messages[grade_id]


@pytest.mark.slow
def test_visible_tests_explain_unanswered(real_data_dir, monkeypatch):
    release, _ = read_pair(PROJECT_ROOT, "week02")
    notebook = _run(release, real_data_dir, monkeypatch)
    messages = _error_messages(notebook)
    assert len(messages) == len(_test_cells(notebook))
    assert [
        text for text in messages.values() if "まだ答えを書いていません" not in text
    ] == []
