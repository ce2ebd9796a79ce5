"""Tests of the class report, on courses graded with the real nbgrader.

Most tests use a tiny course with known scores (tests/report_helpers.py);
the last ones check the report of the demo class against its known mistakes.
"""

import csv
import subprocess
import sys

import nbformat
import pytest
from conftest import PROJECT_ROOT
from demo_helpers import (
    DEMO_ARCHIVE_STUDENTS,
    DEMO_MISTAKES,
    DEMO_STUDENTS,
    graded_demo_course,
)
from report_helpers import ABS_MISTAKE, ASSIGNMENT, STUDENTS, build_tiny_course
from test_pipeline import WRONG_ANSWERS

from grading import report

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny_course(tmp_path_factory):
    """The tiny course's folder and gradebook URL, autograded once per module."""
    course_root = tmp_path_factory.mktemp("tiny-course")
    return course_root, build_tiny_course(course_root)


@pytest.fixture(scope="module")
def results(tiny_course):
    course_root, db_url = tiny_course
    return report.load_results(db_url, course_root / "source")


@pytest.fixture(scope="module")
def report_dir(tiny_course, results):
    output = tiny_course[0] / "reports"
    report.write_report(results, output, mistakes=[ABS_MISTAKE])
    return output


def read_csv(path):
    with path.open(encoding="utf-8-sig", newline="") as file:
        return list(csv.DictReader(file))


def text_files(folder):
    return sorted(p for p in folder.iterdir() if p.suffix in (".html", ".csv"))


def test_load_students_with_names(results):
    assert results.students["s02"] == "佐藤 花子"


def test_load_submissions_only_submitted(results):
    submitted = [s.student_id for s in results.submissions_of(ASSIGNMENT)]
    assert submitted == ["s01", "s02", "s03", "s04"]


def test_load_test_cells_in_order(results):
    assert results.test_cells[ASSIGNMENT] == ["test_positive", "test_negative"]


def test_load_scores(results):
    scores = {s.student_id: s.score for s in results.submissions_of(ASSIGNMENT)}
    assert scores == {"s01": 3.0, "s02": 1.0, "s03": 1.0, "s04": 0.0}


def test_mistake_finds_students(results):
    found = report.find_mistakes(results, [ABS_MISTAKE])
    assert found[ABS_MISTAKE] == ["s02", "s03"]


def test_mistake_ignores_unfinished(results):
    # s04 fails test_negative too, but also test_positive: not this mistake.
    found = report.find_mistakes(results, [ABS_MISTAKE])
    assert "s04" not in found[ABS_MISTAKE]


def test_mistake_unknown_cell_skipped(results):
    unknown = report.Mistake("unknown", "存在しないテスト", ASSIGNMENT, ("test_x",))
    assert report.find_mistakes(results, [unknown]) == {}


def test_pass_rates(results):
    rates = {r.cell: (r.passed, r.submissions) for r in report.cell_pass_rates(results)}
    assert rates == {"test_positive": (3, 4), "test_negative": (1, 4)}


def test_week_label():
    assert report.week_label("week02") == "第 2 週"


def test_report_files_written(report_dir):
    expected = {
        "index.html",
        "scores.png",
        "pass_rates.png",
        "mistakes.png",
        "scores.csv",
        "pass_rates.csv",
        "mistakes.csv",
    }
    for audience in ("instructor", "anonymous"):
        names = {path.name for path in (report_dir / audience).iterdir()}
        assert names == expected, audience


def test_report_figures_are_png(report_dir):
    for path in sorted(report_dir.glob("*/*.png")):
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", path


def test_instructor_mistakes_csv(report_dir):
    rows = read_csv(report_dir / "instructor" / "mistakes.csv")
    assert rows == [
        {
            "mistake": "abs_mistake",
            "description": "絶対値を取っている",
            "assignment": ASSIGNMENT,
            "students": "2",
            "submissions": "4",
            "student_ids": "s02 s03",
        }
    ]


def test_instructor_page_names_students(report_dir):
    page = (report_dir / "instructor" / "index.html").read_text(encoding="utf-8")
    assert "佐藤 花子（s02）" in page


def test_instructor_page_marks_missing(report_dir):
    page = (report_dir / "instructor" / "index.html").read_text(encoding="utf-8")
    assert "採点なし" in page


def test_anonymous_mistakes_csv_counts(report_dir):
    rows = read_csv(report_dir / "anonymous" / "mistakes.csv")
    assert [(row["mistake"], row["students"]) for row in rows] == [("abs_mistake", "2")]


def test_anonymous_has_no_ids_or_names(report_dir):
    identifiers = set(STUDENTS)
    for first_name, last_name in STUDENTS.values():
        identifiers |= {first_name, last_name}
    # The figures are drawn from counts only; their compressed bytes are not text.
    for path in text_files(report_dir / "anonymous"):
        text = path.read_text(encoding="utf-8-sig")
        for identifier in sorted(identifiers):
            assert identifier not in text, f"{identifier} in {path.name}"


def test_anonymous_scores_csv(report_dir):
    rows = read_csv(report_dir / "anonymous" / "scores.csv")
    assert [row["score"] for row in rows] == ["3.0", "1.0", "1.0", "0.0"]


def test_command_writes_report(tiny_course, tmp_path):
    course_root, _ = tiny_course
    arguments = ["--course-root", str(course_root), "--output", str(tmp_path)]
    assert report.main(arguments) == 0
    assert (tmp_path / "anonymous" / "index.html").is_file()


def test_command_missing_gradebook(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        report.main(["--course-root", str(tmp_path)])
    assert exit_info.value.code == 2
    assert "gradebook not found" in capsys.readouterr().err


# The wrong answers that tests/test_pipeline.py grades with the real pipeline
# (with the points each test cell loses), and the known mistake that each one
# must be reported as. Every other wrong answer there must match no mistake.
MISTAKE_OF_WRONG_ANSWER = {
    "w2-naive": "softmax_overflow",
    "w2-whole-batch-sum": "softmax_whole_batch",
    # Without keepdims the row sums broadcast wrongly: same cells, same label.
    "w2-no-keepdims": "softmax_whole_batch",
    "w2-global-max": "softmax_global_max",
    "w2-in-place": "softmax_in_place",
    "w4-drop-last-batch": "partial_batch",
    "w4-mean-of-batches": "partial_batch",
    "w4-argmax-axis0": "argmax_axis",
}


def course_test_points():
    """Return {assignment: {test cell: points}} from the course's source/."""
    points = {}
    for path in sorted((PROJECT_ROOT / "source").glob("week*/week*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        points[path.parent.name] = {
            cell.metadata.nbgrader["grade_id"]: cell.metadata.nbgrader["points"]
            for cell in notebook.cells
            if cell.metadata.get("nbgrader", {}).get("grade")
        }
    return points


@pytest.mark.parametrize("student", sorted(WRONG_ANSWERS))
def test_signature_of_graded_answer(student):
    assignment, _, lost_points = WRONG_ANSWERS[student]
    points = course_test_points()
    cell_scores = {
        cell: (max_score - lost_points.get(cell, 0), max_score)
        for cell, max_score in points[assignment].items()
    }
    submission = report.Submission(student, "", assignment, 0, 0, cell_scores)
    results = report.ClassResults(
        assignments=sorted(points),
        test_cells={name: list(cells) for name, cells in points.items()},
        students={student: ""},
        submissions=[submission],
    )
    found = report.find_mistakes(results)
    made = [mistake.key for mistake, ids in found.items() if student in ids]
    expected = MISTAKE_OF_WRONG_ANSWER.get(student)
    assert made == ([expected] if expected else [])


@pytest.fixture(scope="module")
def demo_report(tmp_path_factory, real_data_dir):
    """The report of the demo class, written by the command as the main job runs it."""
    course_root = graded_demo_course(tmp_path_factory, real_data_dir)
    command = [sys.executable, "-m", "grading.report", "--course-root", course_root]
    subprocess.run(command, check=True, capture_output=True, timeout=120)
    return course_root / "reports"


@pytest.fixture(scope="module")
def demo_mistake_rows(demo_report):
    rows = read_csv(demo_report / "instructor" / "mistakes.csv")
    return {row["mistake"]: row for row in rows}


def test_demo_every_mistake_checked(demo_mistake_rows):
    assert sorted(demo_mistake_rows) == sorted(DEMO_MISTAKES)


@pytest.mark.parametrize("mistake", sorted(DEMO_MISTAKES))
def test_demo_mistake_students(demo_mistake_rows, mistake):
    assert demo_mistake_rows[mistake]["student_ids"].split() == DEMO_MISTAKES[mistake]


@pytest.mark.parametrize("mistake", sorted(DEMO_MISTAKES))
def test_demo_mistake_counts_anonymous(demo_report, mistake):
    rows = read_csv(demo_report / "anonymous" / "mistakes.csv")
    counts = {row["mistake"]: int(row["students"]) for row in rows}
    assert counts[mistake] == len(DEMO_MISTAKES[mistake])


def test_demo_anonymous_has_no_ids(demo_report):
    for path in text_files(demo_report / "anonymous"):
        text = path.read_text(encoding="utf-8-sig")
        for student_id in DEMO_STUDENTS:
            assert student_id not in text, f"{student_id} in {path.name}"


def test_demo_archive_students_named(demo_report):
    rows = read_csv(demo_report / "instructor" / "scores.csv")
    names = {row["student_id"]: row["student_name"] for row in rows}
    for student_id, name in DEMO_ARCHIVE_STUDENTS.items():
        assert names[student_id] == name, student_id


def test_demo_anonymous_has_no_archive_names(demo_report):
    for path in text_files(demo_report / "anonymous"):
        text = path.read_text(encoding="utf-8-sig")
        for student_id, name in DEMO_ARCHIVE_STUDENTS.items():
            assert student_id not in text, f"{student_id} in {path.name}"
            assert name not in text, f"{name} in {path.name}"
