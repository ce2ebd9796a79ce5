"""Taking in submissions: file names, notebook formats and rebuilt metadata.

These tests read the committed release/ and source/ notebooks and start no
kernel; test_pipeline.py grades the rebuilt notebooks with nbgrader.
"""

import json
import os
import zipfile

import nbformat
import pytest
from pipeline_helpers import PROJECT_ROOT, answered

from grading import intake
from grading.students import read_pair


def _grade_ids(notebook):
    return [
        cell.metadata["nbgrader"]["grade_id"]
        for cell in notebook.cells
        if "nbgrader" in cell.metadata
    ]


def _rebuild(assignment, student_notebook):
    release, source = read_pair(PROJECT_ROOT, assignment)
    return intake.rebuild_notebook(
        student_notebook, release, intake.load_answer_names(source, release)
    )


def _answer_source(notebook, grade_id):
    return next(
        cell.source
        for cell in notebook.cells
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id
    )


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        ("week02.ipynb", "week02"),
        ("Copy of week02.ipynb", "week02"),
        ("Copy of Copy of week02.ipynb", "week02"),
        ("week02 (1).ipynb", "week02"),
        ("Copy of week02 (3).ipynb", "week02"),
        ("week02.ipynb のコピー.ipynb", "week02"),
        ("「week02.ipynb」のコピー.ipynb", "week02"),
        ("Week02.IPYNB", "week02"),
    ],
)
def test_notebook_name_from_file(filename, expected):
    assert intake.notebook_name_from_file(filename) == expected


def test_match_files_lms_prefix(tmp_path):
    path = tmp_path / "Yamada Taro_12345_assignsubmission_file_week02.ipynb"
    path.write_text("{}")
    chosen, _ = intake.match_submitted_files([path], ["week02"])
    assert chosen["week02"] == path


def test_match_files_later_download(tmp_path):
    paths = [tmp_path / name for name in ("week02 (2).ipynb", "week02 (1).ipynb")]
    for path in paths:
        path.write_text("{}")
    os.utime(paths[0], (1, 1))
    chosen, notes = intake.match_submitted_files(paths, ["week02"])
    assert chosen["week02"] == paths[0]
    assert any("ignored 'week02 (1).ipynb'" in note for note in notes)


def test_match_files_single_odd_name(tmp_path):
    path = tmp_path / "my homework.ipynb"
    path.write_text("{}")
    chosen, _ = intake.match_submitted_files([path], ["week03"])
    assert chosen["week03"] == path


def test_read_invalid_json(tmp_path):
    path = tmp_path / "week01.ipynb"
    path.write_text('{"cells": [', encoding="utf-8")
    with pytest.raises(intake.IntakeError, match="not a valid Jupyter notebook"):
        intake.read_submission(path)


def test_read_cut_off_file(tmp_path):
    path = tmp_path / "week01.ipynb"
    path.write_text('{\n "cells": [\n  {"source": "imp', encoding="utf-8")
    with pytest.raises(intake.IntakeError, match="ends at line 3, column 17"):
        intake.read_submission(path)


def test_read_invalid_json_position(tmp_path):
    path = tmp_path / "week01.ipynb"
    path.write_text('{\n "cells": [,]\n}', encoding="utf-8")
    with pytest.raises(intake.IntakeError, match="invalid JSON at line 2, column"):
        intake.read_submission(path)


def test_read_format_3_upgraded(tmp_path):
    notebook = answered(PROJECT_ROOT, "week01")
    path = tmp_path / "week01.ipynb"
    path.write_text(nbformat.writes(nbformat.convert(notebook, 3)), encoding="utf-8")
    upgraded, notes = intake.read_submission(path)
    assert upgraded.nbformat == 4
    assert notes == ["upgraded notebook format 3.0 to 4.5"]


def test_rebuild_keeps_intact_notebook():
    notebook = answered(PROJECT_ROOT, "week02")
    rebuilt, notes = _rebuild("week02", notebook)
    assert notes == []
    assert _grade_ids(rebuilt) == _grade_ids(notebook)


def test_rebuild_restores_lost_metadata():
    notebook = answered(PROJECT_ROOT, "week02")
    expected_ids = _grade_ids(notebook)
    for cell in notebook.cells:
        cell.metadata = {}
    rebuilt, notes = _rebuild("week02", notebook)
    assert _grade_ids(rebuilt) == expected_ids
    assert any(note.startswith("restored nbgrader metadata") for note in notes)


def test_rebuild_keeps_answer_without_metadata():
    notebook = answered(PROJECT_ROOT, "week02")
    answer = _answer_source(notebook, "softmax")
    for cell in notebook.cells:
        cell.metadata = {}
    rebuilt, _ = _rebuild("week02", notebook)
    assert _answer_source(rebuilt, "softmax") == answer


def test_rebuild_puts_back_deleted_tests():
    notebook = answered(PROJECT_ROOT, "week02")
    expected_ids = _grade_ids(notebook)
    notebook.cells = [
        cell
        for cell in notebook.cells
        if not cell.metadata.get("nbgrader", {}).get("grade")
    ]
    rebuilt, notes = _rebuild("week02", notebook)
    assert _grade_ids(rebuilt) == expected_ids
    assert any(note.startswith("put back deleted cells") for note in notes)


def test_rebuild_removes_duplicated_test():
    notebook = answered(PROJECT_ROOT, "week02")
    expected_ids = _grade_ids(notebook)
    test_cell = next(
        cell
        for cell in notebook.cells
        if cell.metadata.get("nbgrader", {}).get("grade")
    )
    notebook.cells.append(nbformat.from_dict(json.loads(json.dumps(test_cell))))
    rebuilt, notes = _rebuild("week02", notebook)
    assert _grade_ids(rebuilt) == expected_ids
    assert any(note.startswith("removed duplicated test cells") for note in notes)


def test_rebuild_last_duplicate_answer_wins():
    notebook = answered(PROJECT_ROOT, "week02")
    index, cell = next(
        (index, cell)
        for index, cell in enumerate(notebook.cells)
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "softmax"
    )
    later = nbformat.from_dict(json.loads(json.dumps(cell)))
    later.id = "softmax-again"
    later.source = "def softmax(x):\n    return x"
    notebook.cells.insert(index + 1, later)
    rebuilt, _ = _rebuild("week02", notebook)
    assert _answer_source(rebuilt, "softmax") == later.source


def test_rebuild_ids_unique():
    notebook = answered(PROJECT_ROOT, "week02")
    notebook.cells.extend(
        nbformat.from_dict(json.loads(json.dumps(cell))) for cell in notebook.cells[:4]
    )
    rebuilt, _ = _rebuild("week02", notebook)
    ids = [cell.id for cell in rebuilt.cells]
    assert len(ids) == len(set(ids))


def test_rebuild_answer_in_other_cell():
    notebook = answered(PROJECT_ROOT, "week01")
    notebook.cells = [
        cell
        for cell in notebook.cells
        if cell.metadata.get("nbgrader", {}).get("grade_id") != "softmax"
    ]
    combined = next(
        cell
        for cell in notebook.cells
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "identity_function"
    )
    combined.source += "\n\ndef softmax(a):\n    return np.exp(a) / np.sum(np.exp(a))"
    rebuilt, _ = _rebuild("week01", notebook)
    assert "raise NotImplementedError" not in _answer_source(rebuilt, "softmax")


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("np.allclose = lambda *a, **k: True", "changes an attribute of 'np'"),
        ("import builtins\nbuiltins.abs = len", "changes an attribute of 'builtins'"),
        ("np = None", "rebinds 'np'"),
        ("import os\nos._exit(1)", "stops the kernel"),
        ("get_ipython().events.register('pre_run_cell', print)", "get_ipython"),
        ("import importlib", "imports importlib"),
        ("import fake as np", "binds 'np' to fake"),
    ],
)
def test_suspicious_lines_found(code, reason):
    release, _ = read_pair(PROJECT_ROOT, "week02")
    notebook = answered(PROJECT_ROOT, "week02")
    notebook.cells.append(nbformat.v4.new_code_cell(code))
    findings = intake.suspicious_lines(notebook, release)
    assert any(reason in finding for finding in findings)


def test_suspicious_lines_none_in_solution():
    release, _ = read_pair(PROJECT_ROOT, "week04")
    notebook = answered(PROJECT_ROOT, "week04")
    assert intake.suspicious_lines(notebook, release) == []


def test_rebuild_restores_edited_test():
    notebook = answered(PROJECT_ROOT, "week02")
    test_cell = next(
        cell
        for cell in notebook.cells
        if cell.metadata.get("nbgrader", {}).get("grade")
    )
    test_cell.source = 'print("OK")'
    rebuilt, notes = _rebuild("week02", notebook)
    assert (
        _answer_source(rebuilt, test_cell.metadata["nbgrader"]["grade_id"])
        != 'print("OK")'
    )
    assert any(note.startswith("restored edited cells") for note in notes)


def test_suspicious_test_name_defined():
    release, source = read_pair(PROJECT_ROOT, "week04")
    notebook = answered(PROJECT_ROOT, "week04")
    notebook.cells.append(nbformat.v4.new_code_cell("_GRADER_NETWORK = {}"))
    findings = intake.suspicious_lines(
        notebook, release, intake.hidden_test_names(source)
    )
    assert any("'_GRADER_NETWORK', a name of the tests" in line for line in findings)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Yamada Taro_12345_assignsubmission_file_", "12345"),
        ("yamadataro_12345_67890_week02.ipynb", "12345"),
        ("s1234567_week02.ipynb", "s1234567"),
        ("Yamada Taro_week02.ipynb", "yamada-taro"),
        ("山田太郎_12345_assignsubmission_file_", "12345"),
    ],
)
def test_student_id_from_name(name, expected):
    assert intake.student_id_from_name(name) == expected


def test_unpack_lms_archive_layouts(tmp_path):
    archive_path = tmp_path / "downloads.zip"
    with zipfile.ZipFile(archive_path, "w") as archive:
        archive.writestr("Yamada Taro_12345_assignsubmission_file_/week02.ipynb", "{}")
        archive.writestr("suzuki_678_Copy of week02.ipynb", "{}")
        archive.writestr("../escape.ipynb", "{}")
    skipped = intake.unpack_lms_archive(archive_path, "week02", tmp_path / "class")
    found = sorted(
        path.relative_to(tmp_path / "class").as_posix()
        for path in (tmp_path / "class").rglob("*.ipynb")
    )
    assert found == [
        "12345/week02/week02.ipynb",
        "678/week02/suzuki_678_Copy of week02.ipynb",
    ]
    assert skipped == ["skipped '../escape.ipynb': unsafe path"]


def test_unpack_same_name_two_numbers(tmp_path):
    archive_path = tmp_path / "downloads.zip"
    with zipfile.ZipFile(archive_path, "w") as archive:
        archive.writestr("Sato Hana_30002_file_/Copy of week02.ipynb", "{}")
        archive.writestr("Sato Hana_30003_file_/week02 (2).ipynb", "{}")
    intake.unpack_lms_archive(archive_path, "week02", tmp_path / "class")
    students = sorted(path.name for path in (tmp_path / "class").iterdir())
    assert students == ["30002", "30003"]


def test_unpack_same_id_rejected(tmp_path):
    archive_path = tmp_path / "downloads.zip"
    with zipfile.ZipFile(archive_path, "w") as archive:
        archive.writestr("Sato Hana_week02.ipynb", "{}")
        archive.writestr("sato.hana_week02 (1).ipynb", "{}")
    with pytest.raises(intake.IntakeError) as error:
        intake.unpack_lms_archive(archive_path, "week02", tmp_path / "class")
    assert "'Sato Hana'" in str(error.value)
    assert "'sato.hana'" in str(error.value)
