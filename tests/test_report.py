"""Tests of the class report on a tiny course graded with the real nbgrader."""

import csv
import subprocess
import sys

import pytest
from report_helpers import ABS_MISTAKE, ASSIGNMENT, STUDENTS, build_tiny_course

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
    assert "未提出" in page


def test_anonymous_mistakes_csv_counts(report_dir):
    rows = read_csv(report_dir / "anonymous" / "mistakes.csv")
    assert [(row["mistake"], row["students"]) for row in rows] == [("abs_mistake", "2")]


def test_anonymous_has_no_ids_or_names(report_dir):
    identifiers = set(STUDENTS)
    for first_name, last_name in STUDENTS.values():
        identifiers |= {first_name, last_name}
    for path in sorted((report_dir / "anonymous").iterdir()):
        text = path.read_bytes().decode("utf-8", errors="replace")
        for identifier in sorted(identifiers):
            assert identifier not in text, f"{identifier} in {path.name}"


def test_anonymous_scores_csv(report_dir):
    rows = read_csv(report_dir / "anonymous" / "scores.csv")
    assert [row["score"] for row in rows] == ["3.0", "1.0", "1.0", "0.0"]


def test_command_writes_report(tiny_course, tmp_path):
    command = [sys.executable, "-m", "grading.report", "--db", tiny_course[1]]
    command += ["--output", str(tmp_path)]
    subprocess.run(command, check=True, capture_output=True, timeout=120)
    assert (tmp_path / "anonymous" / "index.html").is_file()


def test_command_missing_gradebook(tmp_path):
    missing = tmp_path / "gradebook.db"
    command = [sys.executable, "-m", "grading.report", "--db", f"sqlite:///{missing}"]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert completed.returncode == 2
    assert "gradebook not found" in completed.stderr
