"""End-to-end grading: real nbgrader commands on a class of simulated students.

One module-scoped run of ``python -m grading.pipeline`` grades every student
below in a copy of the course. Each known-wrong answer must lose exactly the
points of the tests that check the behaviour it gets wrong, and every
submission must end with a grade or a named error.
"""

import csv
import json
import os
import subprocess
import sys
import zipfile

import nbformat
import pytest
from demo_helpers import graded_demo_course
from nbgrader.api import Gradebook
from pipeline_helpers import PROJECT_ROOT, answered, copy_course, write_student

from grading.pipeline import (
    DEMO_MARKER,
    GRADING_OUTPUTS,
    PipelineError,
    check_course_root,
    format_table,
    main,
    read_scores,
    read_student_names,
    record_student_names,
    take_in,
    take_in_archive,
)

MAX_POINTS = {"week01": 6, "week02": 10, "week03": 11, "week04": 10}

# Points of each test cell, from the tables in the assignment notebooks.
WEEK02_POINTS = {
    "test_vector_lecture": 1,
    "test_vector_large": 2,
    "test_batch_rows": 2,
    "test_batch_row_scales": 1,
    "test_input_unchanged": 1,
    "test_integer_input": 1,
    "test_float32_input": 1,
    "test_batch_of_one": 1,
}

# student id -> (assignment, {answer cell: student's code}, test cells failed).
# The failed test cells are the behaviours the mistake gets wrong; the
# student must score the maximum minus exactly their points.
WRONG_ANSWERS = {
    "w1-identity-list": (
        "week01",
        {
            "identity_function": "import numpy as np\n\ndef identity_function(x):\n    return list(x)"
        },
        {"test_identity_function": 1},
    ),
    "w1-sum-of-inputs": (
        "week01",
        {"softmax": "def softmax(a):\n    return np.exp(a) / np.sum(a)"},
        {"test_softmax_lecture": 2, "test_softmax_other_inputs": 1},
    ),
    "w1-regression-swapped": (
        "week01",
        {
            "classification_or_regression": (
                'answer_a = "回帰"\nanswer_b = "分類"\nanswer_c = "分類"\n'
                'answer_d = "恒等関数"'
            )
        },
        {"test_classification_or_regression": 2},
    ),
    "w2-naive": (
        "week02",
        {
            "softmax": (
                "import numpy as np\n\ndef softmax(x):\n"
                "    exp_x = np.exp(x)\n"
                "    return exp_x / np.sum(exp_x, axis=-1, keepdims=True)"
            )
        },
        {
            "test_vector_large": 2,
            "test_batch_rows": 2,
            "test_batch_row_scales": 1,
            "test_integer_input": 1,
            "test_float32_input": 1,
            "test_batch_of_one": 1,
        },
    ),
    "w2-whole-batch-sum": (
        "week02",
        {
            "softmax": (
                "import numpy as np\n\ndef softmax(x):\n"
                "    exp_x = np.exp(x - np.max(x, axis=-1, keepdims=True))\n"
                "    return exp_x / np.sum(exp_x)"
            )
        },
        {"test_batch_rows": 2, "test_batch_row_scales": 1},
    ),
    "w2-global-max": (
        "week02",
        {
            "softmax": (
                "import numpy as np\n\ndef softmax(x):\n"
                "    exp_x = np.exp(x - np.max(x))\n"
                "    return exp_x / np.sum(exp_x, axis=-1, keepdims=True)"
            )
        },
        {"test_batch_row_scales": 1},
    ),
    "w2-no-keepdims": (
        "week02",
        {
            "softmax": (
                "import numpy as np\n\ndef softmax(x):\n"
                "    exp_x = np.exp(x - np.max(x, axis=-1))\n"
                "    return exp_x / np.sum(exp_x, axis=-1)"
            )
        },
        {"test_batch_rows": 2, "test_batch_row_scales": 1},
    ),
    "w2-in-place": (
        "week02",
        {
            "softmax": (
                "import numpy as np\n\ndef softmax(x):\n"
                "    x -= np.max(x, axis=-1, keepdims=True)\n"
                "    exp_x = np.exp(x)\n"
                "    return exp_x / np.sum(exp_x, axis=-1, keepdims=True)"
            )
        },
        {"test_input_unchanged": 1},
    ),
    "w2-integer-output": (
        "week02",
        {
            "softmax": (
                "import numpy as np\n\ndef softmax(x):\n"
                "    exp_x = np.exp(x - np.max(x, axis=-1, keepdims=True))\n"
                "    y = np.zeros_like(x)\n"
                "    y[...] = exp_x / np.sum(exp_x, axis=-1, keepdims=True)\n"
                "    return y"
            )
        },
        {"test_integer_input": 1},
    ),
    "w2-always-float64": (
        "week02",
        {
            "softmax": (
                "import numpy as np\n\ndef softmax(x):\n"
                "    x = np.asarray(x, dtype=np.float64)\n"
                "    exp_x = np.exp(x - np.max(x, axis=-1, keepdims=True))\n"
                "    return exp_x / np.sum(exp_x, axis=-1, keepdims=True)"
            )
        },
        {"test_float32_input": 1},
    ),
    "w2-squeeze": (
        "week02",
        {
            "softmax": (
                "import numpy as np\n\ndef softmax(x):\n"
                "    x = np.squeeze(x)\n"
                "    exp_x = np.exp(x - np.max(x, axis=-1, keepdims=True))\n"
                "    return exp_x / np.sum(exp_x, axis=-1, keepdims=True)"
            )
        },
        {"test_batch_of_one": 1},
    ),
    "w3-divide-by-max": (
        "week03",
        {
            "normalize": (
                "import numpy as np\n\ndef normalize(images):\n"
                "    return images.astype(np.float32) / images.max()"
            )
        },
        {"test_normalize_values": 2},
    ),
    "w3-float64": (
        "week03",
        {
            "normalize": "import numpy as np\n\ndef normalize(images):\n    return images / 255.0"
        },
        {"test_normalize_dtype": 1},
    ),
    "w3-flatten-all": (
        "week03",
        {"flatten": "def flatten(images):\n    return images.reshape(-1)"},
        {
            "test_flatten_shape": 1,
            "test_flatten_order": 1,
            "test_flatten_batch_of_one": 1,
            "test_real_data": 1,
        },
    ),
    "w3-flatten-transposed": (
        "week03",
        {"flatten": "def flatten(images):\n    return images.reshape(784, -1).T"},
        {"test_flatten_order": 1, "test_real_data": 1},
    ),
    "w3-flatten-squeeze": (
        "week03",
        {
            "flatten": (
                "def flatten(images):\n"
                "    return images.reshape(images.shape[0], -1).squeeze()"
            )
        },
        {"test_flatten_batch_of_one": 1},
    ),
    "w3-one-hot-rows": (
        "week03",
        {
            "one_hot": (
                "def one_hot(labels):\n"
                "    encoded = np.zeros((labels.size, 10), dtype=np.float32)\n"
                "    encoded[labels] = 1.0\n"
                "    return encoded"
            )
        },
        {"test_one_hot_values": 2, "test_real_data": 1},
    ),
    "w3-one-hot-float64": (
        "week03",
        {
            "one_hot": (
                "def one_hot(labels):\n"
                "    encoded = np.zeros((labels.size, 10))\n"
                "    encoded[np.arange(labels.size), labels] = 1.0\n"
                "    return encoded"
            )
        },
        {"test_one_hot_dtype": 1},
    ),
    "w4-whole-batch-softmax": (
        "week04",
        {
            "predict": (
                "def predict(network, x):\n"
                '    z1 = sigmoid(x @ network["W1"] + network["b1"])\n'
                '    z2 = sigmoid(z1 @ network["W2"] + network["b2"])\n'
                '    a3 = z2 @ network["W3"] + network["b3"]\n'
                "    exp_a = np.exp(a3 - np.max(a3))\n"
                "    return exp_a / np.sum(exp_a)"
            )
        },
        {"test_predict_batch": 2},
    ),
    "w4-squeeze": (
        "week04",
        {
            "predict": (
                "def predict(network, x):\n"
                "    x = np.squeeze(x)\n"
                '    z1 = sigmoid(x @ network["W1"] + network["b1"])\n'
                '    z2 = sigmoid(z1 @ network["W2"] + network["b2"])\n'
                '    return softmax(z2 @ network["W3"] + network["b3"])'
            )
        },
        {"test_predict_batch_of_one": 1},
    ),
    "w4-drop-last-batch": (
        "week04",
        {
            "accuracy": (
                "def accuracy(network, x, t, batch_size=100):\n"
                "    correct = 0\n"
                "    for i in range(len(x) // batch_size):\n"
                "        batch = slice(i * batch_size, (i + 1) * batch_size)\n"
                "        y = predict(network, x[batch])\n"
                "        correct += np.sum(np.argmax(y, axis=1) == t[batch])\n"
                "    return correct / len(x)"
            )
        },
        {"test_accuracy_partial_batch": 2},
    ),
    "w4-mean-of-batches": (
        "week04",
        {
            "accuracy": (
                "def accuracy(network, x, t, batch_size=100):\n"
                "    scores = []\n"
                "    for start in range(0, len(x), batch_size):\n"
                "        y = predict(network, x[start:start + batch_size])\n"
                "        hits = np.argmax(y, axis=1) == t[start:start + batch_size]\n"
                "        scores.append(np.mean(hits))\n"
                "    return np.mean(scores)"
            )
        },
        {"test_accuracy_partial_batch": 2},
    ),
    "w4-argmax-axis0": (
        "week04",
        {
            "accuracy": (
                "def accuracy(network, x, t, batch_size=100):\n"
                "    correct = 0\n"
                "    for start in range(0, len(x), batch_size):\n"
                "        y = predict(network, x[start:start + batch_size])\n"
                "        predicted = np.argmax(y, axis=0)\n"
                "        correct += np.sum(predicted == t[start:start + batch_size])\n"
                "    return correct / len(x)"
            )
        },
        {"test_accuracy_lecture": 2, "test_accuracy_partial_batch": 2},
    ),
}

NAIVE_SOFTMAX = WRONG_ANSWERS["w2-naive"][1]["softmax"]
NAIVE_LOSS = sum(WRONG_ANSWERS["w2-naive"][2].values())

# Code that a student adds to a correct or naive answer to fool the tests.
ALLCLOSE_PATCH = "\nnp.allclose = lambda *args, **kwargs: True\n"
NUMPY_STAND_IN = (
    "\nimport numpy\n\n"
    "class _AlwaysClose:\n"
    "    def __getattr__(self, name):\n"
    "        return getattr(numpy, name)\n\n"
    "    def allclose(self, *args, **kwargs):\n"
    "        return True\n\n"
    "np = _AlwaysClose()\n"
)
HELPER_OVERRIDES = (
    "\ndef _is_close(*args, **kwargs):\n    return True\n\n"
    "def _reference_softmax(x):\n    return softmax(x)\n"
)
INPUT_TRANSFORMER = (
    "\nget_ipython().input_transformers_cleanup.append(lambda lines: ['pass\\n'])\n"
)


def _strip_nbgrader_metadata(notebook):
    for cell in notebook.cells:
        cell.metadata = {}
    return notebook


def _grade_id(cell):
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def _write_robustness_students(course, submissions):
    """Write the students who rename, break or tamper with their notebooks."""
    week01 = answered(course, "week01")
    week02 = answered(course, "week02")

    write_student(
        submissions, "renamed-copy", "week02", week02, "Copy of week02 (1).ipynb"
    )
    write_student(
        submissions,
        "no-metadata",
        "week02",
        _strip_nbgrader_metadata(answered(course, "week02")),
    )
    old = nbformat.v4.new_notebook()
    old.update(json.loads(nbformat.writes(week01)))
    old.nbformat_minor = 0
    for cell in old.cells:
        cell.pop("id", None)
    write_student(submissions, "format-4-0", "week01", json.dumps(old))
    write_student(
        submissions, "format-3", "week01", nbformat.writes(nbformat.convert(week01, 3))
    )

    deleted = answered(course, "week02", {"softmax": NAIVE_SOFTMAX})
    deleted.cells = [
        cell for cell in deleted.cells if "test_" not in str(_grade_id(cell))
    ]
    write_student(submissions, "deleted-tests", "week02", deleted)

    edited = answered(course, "week02", {"softmax": NAIVE_SOFTMAX})
    for cell in edited.cells:
        if str(_grade_id(cell)).startswith("test_"):
            cell.source = 'print("OK")'
            cell.metadata["nbgrader"]["points"] = 100
    write_student(submissions, "edited-tests", "week02", edited)

    duplicated = answered(course, "week02")
    copies = []
    for cell in duplicated.cells:
        copies.append(cell)
        if _grade_id(cell) in ("softmax", "test_batch_rows"):
            duplicate = nbformat.from_dict(json.loads(json.dumps(cell)))
            duplicate.id = f"{cell.id}-copy"
            copies.append(duplicate)
    duplicated.cells = copies
    write_student(submissions, "duplicated-cells", "week02", duplicated)

    retyped = answered(course, "week01")
    retyped.cells = [
        cell
        for cell in retyped.cells
        if _grade_id(cell) not in ("identity_function", "softmax")
    ]
    retyped.cells.insert(
        3,
        nbformat.v4.new_code_cell(
            "import numpy as np\n\ndef identity_function(x):\n    return x\n\n"
            "def softmax(a):\n    e = np.exp(a)\n    return e / np.sum(e)"
        ),
    )
    write_student(submissions, "retyped-answers", "week01", retyped)

    for student, extra in (
        ("patches-allclose", ALLCLOSE_PATCH),
        ("rebinds-np", NUMPY_STAND_IN),
        ("overrides-helpers", HELPER_OVERRIDES),
        ("input-transformer", INPUT_TRANSFORMER),
    ):
        notebook = answered(course, "week02", {"softmax": NAIVE_SOFTMAX + extra})
        write_student(submissions, student, "week02", notebook)

    hog = "hog = np.ones(6 * 1024**3 // 8)\n\n"
    flood = "for line in range(100_000):\n    print('flood', line)\n\n"
    identity = answered(course, "week01").cells
    identity_code = next(
        cell.source for cell in identity if _grade_id(cell) == "identity_function"
    )
    for student, prefix in (
        ("memory-hog", "import numpy as np\n" + hog),
        ("flood-output", flood),
        ("kills-kernel", "import os\nos._exit(1)\n"),
    ):
        notebook = answered(
            course, "week01", {"identity_function": prefix + identity_code}
        )
        write_student(submissions, student, "week01", notebook)

    # The loop is in the function, so only the test cell that calls it times out.
    looping = answered(
        course,
        "week01",
        {
            "identity_function": (
                "import numpy as np\n\n"
                "def identity_function(x):\n    while True:\n        pass"
            )
        },
    )
    write_student(submissions, "infinite-loop", "week01", looping)

    text = nbformat.writes(week01)
    write_student(submissions, "invalid-json", "week01", text[: len(text) // 2])

    # Week 3 also comes as an LMS zip download: a folder per student, a file
    # named after the student, and a member that tries to leave the folder.
    with zipfile.ZipFile(submissions / "week03.zip", "w") as archive:
        archive.writestr(
            "Zip Folder_1_assignsubmission_file_/week03.ipynb",
            nbformat.writes(answered(course, "week03")),
        )
        archive.writestr(
            "zipflat_2_Copy of week03 (1).ipynb",
            nbformat.writes(answered(course, "week03")),
        )
        archive.writestr("../outside.ipynb", "{}")


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory, real_data_dir):
    """Grade the whole simulated class once; return (course, scores, table)."""
    course = copy_course(tmp_path_factory.mktemp("course"))
    submissions = course / "class"
    for assignment in MAX_POINTS:
        write_student(
            submissions, "reference", assignment, answered(course, assignment)
        )
        release = nbformat.read(
            course / "release" / assignment / f"{assignment}.ipynb", as_version=4
        )
        write_student(submissions, "blank", assignment, release)
    for student, (assignment, answers, _) in WRONG_ANSWERS.items():
        write_student(
            submissions, student, assignment, answered(course, assignment, answers)
        )
    _write_robustness_students(course, submissions)

    environment = dict(os.environ, COURSE_DATA_DIR=str(real_data_dir))
    # Short enough that the infinite loop costs little, long enough for week 4.
    environment["COURSE_CELL_TIMEOUT"] = "20"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "grading.pipeline",
            "--course-root",
            str(course),
            "--submissions",
            str(submissions),
        ],
        cwd=PROJECT_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    scores, _ = read_scores(course)
    return course, scores, result.stdout


def _score(graded_class, student, assignment):
    _, scores, table = graded_class
    assert (student, assignment) in scores, table
    return scores[(student, assignment)][0]


def _notes(graded_class, student):
    _, _, table = graded_class
    return [
        line for line in table.splitlines() if line.strip().startswith(student + " ")
    ]


@pytest.mark.slow
@pytest.mark.parametrize("assignment", sorted(MAX_POINTS))
def test_reference_full_marks(graded_class, assignment):
    assert _score(graded_class, "reference", assignment) == MAX_POINTS[assignment]


@pytest.mark.slow
@pytest.mark.parametrize("assignment", sorted(MAX_POINTS))
def test_reference_writes_no_stderr(graded_class, assignment):
    # nbgrader gives 0 points to a test cell that writes to stderr.
    course, _, _ = graded_class
    path = course / "autograded" / "reference" / assignment / f"{assignment}.ipynb"
    notebook = nbformat.read(path, as_version=4)
    streams = [
        output.get("name")
        for cell in notebook.cells
        for output in cell.get("outputs", [])
        if output.output_type == "stream"
    ]
    assert "stderr" not in streams


@pytest.mark.slow
@pytest.mark.parametrize("assignment", sorted(MAX_POINTS))
def test_blank_scores_zero(graded_class, assignment):
    assert _score(graded_class, "blank", assignment) == 0


@pytest.mark.slow
@pytest.mark.parametrize("assignment", sorted(MAX_POINTS))
def test_blank_has_no_error(graded_class, assignment):
    assert not [line for line in _notes(graded_class, "blank") if "ERROR" in line]


@pytest.mark.slow
@pytest.mark.parametrize("student", sorted(WRONG_ANSWERS))
def test_wrong_answer_loses_its_points(graded_class, student):
    assignment, _, failed_tests = WRONG_ANSWERS[student]
    expected = MAX_POINTS[assignment] - sum(failed_tests.values())
    assert _score(graded_class, student, assignment) == expected


@pytest.mark.slow
@pytest.mark.parametrize(
    ("student", "assignment"),
    [
        ("renamed-copy", "week02"),
        ("no-metadata", "week02"),
        ("format-4-0", "week01"),
        ("format-3", "week01"),
        ("1", "week03"),
        ("2", "week03"),
        ("duplicated-cells", "week02"),
        ("retyped-answers", "week01"),
    ],
)
def test_damaged_notebook_full_marks(graded_class, student, assignment):
    assert _score(graded_class, student, assignment) == MAX_POINTS[assignment]


@pytest.mark.slow
@pytest.mark.parametrize(
    "student",
    [
        "deleted-tests",
        "edited-tests",
        "patches-allclose",
        "rebinds-np",
        "overrides-helpers",
    ],
)
def test_tampering_naive_softmax(graded_class, student):
    expected = MAX_POINTS["week02"] - NAIVE_LOSS
    assert _score(graded_class, student, "week02") == expected


@pytest.mark.slow
@pytest.mark.parametrize(
    "student",
    ["patches-allclose", "rebinds-np", "overrides-helpers", "input-transformer"],
)
def test_tampering_reported(graded_class, student):
    assert [line for line in _notes(graded_class, student) if "suspicious" in line]


@pytest.mark.slow
def test_input_transformer_score_flagged(graded_class):
    # Code that rewrites later cells makes every test pass; it cannot be
    # stopped inside the kernel, so its score must stand out in the table.
    _, _, table = graded_class
    row = next(
        line for line in table.splitlines() if line.startswith("input-transformer")
    )
    assert "!" in row


@pytest.mark.slow
@pytest.mark.parametrize(
    ("student", "lost"),
    [("infinite-loop", 1), ("memory-hog", 1), ("flood-output", 0)],
)
def test_runaway_cell_loses_its_points(graded_class, student, lost):
    assert _score(graded_class, student, "week01") == MAX_POINTS["week01"] - lost


@pytest.mark.slow
def test_flood_output_truncated(graded_class):
    course, _, _ = graded_class
    path = course / "autograded" / "flood-output" / "week01" / "week01.ipynb"
    notebook = nbformat.read(path, as_version=4)
    lines = sum(
        output.get("text", "").count("\n")
        for cell in notebook.cells
        for output in cell.get("outputs", [])
    )
    assert lines < 1000


@pytest.mark.slow
@pytest.mark.parametrize(
    ("student", "reason"),
    [
        ("kills-kernel", "autograde failed"),
        ("invalid-json", "not a valid Jupyter notebook"),
    ],
)
def test_broken_submission_reported(graded_class, student, reason):
    assert [
        line
        for line in _notes(graded_class, student)
        if "ERROR" in line and reason in line
    ]


@pytest.mark.slow
def test_every_submission_accounted(graded_class):
    course, scores, table = graded_class
    submitted = {
        (student.name, assignment.name)
        for student in (course / "class").iterdir()
        if student.is_dir()
        for assignment in student.iterdir()
    }
    errors = {
        (line.split()[0], line.split()[1].rstrip(":"))
        for line in table.splitlines()
        if line.startswith("  ") and "ERROR" in line
    }
    assert submitted - set(scores) - errors == set()


@pytest.mark.slow
def test_feedback_hides_hidden_tests(graded_class):
    course, _, _ = graded_class
    html = (course / "feedback" / "reference" / "week02" / "week02.html").read_text(
        encoding="utf-8"
    )
    assert "_reference_softmax" not in html


@pytest.mark.slow
def test_archive_unsafe_member_reported(graded_class):
    assert [line for line in _notes(graded_class, "(archive)") if "unsafe path" in line]


def test_archive_taken_in(tmp_path):
    course = copy_course(tmp_path / "course")
    archive_path = tmp_path / "download.zip"
    with zipfile.ZipFile(archive_path, "w") as archive:
        archive.writestr(
            "山田太郎_12345_assignsubmission_file_/week02 (1).ipynb",
            nbformat.writes(answered(course, "week02")),
        )
    results = take_in_archive(course, archive_path, ["week02"])
    assert list(results) == [("12345", "week02")]
    assert (course / "submitted" / "12345" / "week02" / "week02.ipynb").is_file()


def test_archive_needs_one_assignment(tmp_path):
    with pytest.raises(PipelineError, match="--assignments week02"):
        take_in_archive(tmp_path, tmp_path / "download.zip", ["week01", "week02"])


@pytest.mark.slow
def test_grades_csv_rows(graded_class):
    course, _, _ = graded_class
    with open(course / "grades.csv", encoding="utf-8", newline="") as file:
        rows = {
            (row["student_id"], row["assignment"]): row for row in csv.DictReader(file)
        }
    cases = {
        ("reference", "week01"): ("graded", "6.0"),
        ("invalid-json", "week01"): ("error", ""),
        ("kills-kernel", "week01"): ("error", ""),
        ("invalid-json", "week02"): ("not submitted", ""),
    }
    for key, (status, score) in cases.items():
        assert rows[key]["status"] == status, key
        assert rows[key]["score"] == score, key


@pytest.mark.slow
def test_grades_csv_error_reason(graded_class):
    course, _, _ = graded_class
    with open(course / "grades.csv", encoding="utf-8", newline="") as file:
        rows = list(csv.DictReader(file))
    row = next(
        row
        for row in rows
        if (row["student_id"], row["assignment"]) == ("kills-kernel", "week01")
    )
    assert row["reason"].startswith("autograde failed")


def test_archive_same_name_kept_apart(tmp_path):
    course = copy_course(tmp_path / "course")
    archive_path = tmp_path / "download.zip"
    notebook = nbformat.writes(answered(course, "week02"))
    with zipfile.ZipFile(archive_path, "w") as archive:
        archive.writestr("Sato Hana_30002_file_/Copy of week02.ipynb", notebook)
        archive.writestr("Sato Hana_30003_file_/week02 (2).ipynb", notebook)
    results = take_in_archive(course, archive_path, ["week02"])
    assert sorted(results) == [("30002", "week02"), ("30003", "week02")]


def test_archive_names_recorded(tmp_path):
    course = copy_course(tmp_path / "course")
    archive_path = tmp_path / "download.zip"
    notebook = nbformat.writes(answered(course, "week02"))
    with zipfile.ZipFile(archive_path, "w") as archive:
        archive.writestr("Sato Hana_30002_Copy of week02.ipynb", notebook)
    results = take_in_archive(course, archive_path, ["week02"])
    record_student_names(course, results)
    assert read_student_names(course) == {"30002": "Sato Hana"}


def test_table_shows_name():
    scores = {("30002", "week02"): (10.0, 10.0)}
    table = format_table(scores, {"week02": 10.0}, {}, {"30002": "Sato Hana"})
    assert "30002 (Sato Hana)  10/10" in table


def test_renamed_file_named_once(tmp_path):
    course = copy_course(tmp_path / "course")
    submissions = tmp_path / "class"
    notebook = answered(course, "week02")
    write_student(submissions, "aoki", "week02", notebook, "Copy of week02.ipynb")
    results = take_in(course, submissions, ["week02"])
    notes = results[("aoki", "week02")].notes
    assert notes == ["'Copy of week02.ipynb' graded as week02.ipynb"]


def test_table_legend():
    table = format_table({}, {"week01": 6.0}, {})
    assert "-: nothing submitted" in table
    assert "*: graded, with notes below" in table


def test_class_on_demo_root_rejected(tmp_path, capsys):
    course = copy_course(tmp_path / "course")
    (course / DEMO_MARKER).write_text("demo\n", encoding="utf-8")
    arguments = ["--course-root", str(course), "--submissions", str(tmp_path)]
    assert main(arguments) == 1
    error = capsys.readouterr().err
    assert "contains the demo class's grades" in error
    assert f"python -m grading.pipeline --clear --course-root {course}" in error


def test_demo_on_class_root_rejected(tmp_path):
    course = copy_course(tmp_path / "course")
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "nn-output-layer") as book:
        book.add_student("30002")
    demo = PROJECT_ROOT / "demo" / "submissions"
    with pytest.raises(PipelineError, match="1 students who are not in the demo"):
        check_course_root(course, demo)


def test_demo_again_allowed(tmp_path):
    course = copy_course(tmp_path / "course")
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "nn-output-layer") as book:
        book.add_student("aoki")
        book.add_student("20001")
    check_course_root(course, PROJECT_ROOT / "demo" / "submissions")


def test_clear_removes_grading_outputs(tmp_path):
    course = copy_course(tmp_path / "course")
    for name in GRADING_OUTPUTS:
        if "." in name:
            (course / name).write_text("", encoding="utf-8")
        else:
            (course / name / "aoki").mkdir(parents=True)
    assert main(["--course-root", str(course), "--clear"]) == 0
    left = [name for name in GRADING_OUTPUTS if (course / name).exists()]
    assert left == []
    assert (course / "source" / "week01" / "week01.ipynb").is_file()
    assert (course / "release" / "week01" / "week01.ipynb").is_file()


@pytest.mark.slow
def test_demo_run_marks_course(tmp_path_factory, real_data_dir):
    course = graded_demo_course(tmp_path_factory, real_data_dir)
    assert (course / DEMO_MARKER).is_file()


@pytest.mark.slow
def test_failed_sandbox_reason_shown(tmp_path, real_data_dir):
    course = copy_course(tmp_path / "course")
    submissions = tmp_path / "class"
    write_student(submissions, "aoki", "week01", answered(course, "week01"))
    # A bwrap that fails the way it does where user namespaces are disabled.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    bwrap = bin_dir / "bwrap"
    bwrap.write_text(
        "#!/bin/sh\necho 'bwrap: setting up uid map: Permission denied' >&2\nexit 1\n",
        encoding="utf-8",
    )
    bwrap.chmod(0o755)
    environment = dict(os.environ, COURSE_DATA_DIR=str(real_data_dir))
    environment["PATH"] = os.pathsep.join([str(bin_dir), environment["PATH"]])
    environment.pop("COURSE_ALLOW_UNSANDBOXED", None)
    command = [sys.executable, "-m", "grading.pipeline", "--course-root", str(course)]
    command += ["--submissions", str(submissions), "--assignments", "week01"]
    result = subprocess.run(
        command, cwd=course, env=environment, capture_output=True, text=True
    )
    assert result.returncode == 1
    assert "cannot grade in a sandbox" in result.stderr
    assert "generate_feedback" not in result.stderr
