"""Write the instructor's class report from nbgrader's gradebook.

After ``nbgrader autograde``, the report shows the score distribution of
every week, the pass rate of every test cell, and for each known mistake
how many students made it and who. It is written twice:

- ``instructor/``: with student ids and names, for the instructor only;
- ``anonymous/``: the same figures and counts without any id or name, to
  share with the class or with colleagues.

Each folder has ``index.html`` (figures and tables), the figures as PNG and
the tables as CSV (UTF-8 with a byte order mark, so that spreadsheet
programs read the Japanese text correctly).

Usage, from the course root::

    python -m grading.report      # reads gradebook.db, writes reports/
    python -m grading.report --course-root DIR --output DIR
"""

import argparse
import csv
import html
import logging
import re
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook

from grading import report_plots

logger = logging.getLogger(__name__)

COURSE_ROOT = Path(__file__).resolve().parent.parent

# A test cell counts as passed at full points, compared with a tolerance
# because nbgrader stores scores as floats.
SCORE_TOLERANCE = 1e-9


@dataclass(frozen=True)
class Mistake:
    """A known mistake and the test results that identify it.

    A submission shows the mistake when every cell in ``fails`` lost points
    and every cell in ``passes`` got full points. The ``passes`` cells keep
    an unfinished notebook, which fails every test, from counting as every
    mistake at once.
    """

    key: str
    label: str
    assignment: str
    fails: tuple[str, ...]
    passes: tuple[str, ...] = ()


# The mistakes that the hidden tests of source/week02 to week04 are built
# around. Cell names are the nbgrader grade_id of the test cells.
# NOTE: a signature names the most likely cause. A different error that
# fails and passes the same cells is counted as the same mistake.
KNOWN_MISTAKES = (
    Mistake(
        key="softmax_overflow",
        label="オーバーフロー（exp の前に最大値を引いていない）",
        assignment="week02",
        fails=("test_vector_large",),
        passes=("test_vector_lecture",),
    ),
    Mistake(
        key="softmax_whole_batch",
        label="バッチ全体で正規化（行ごとに合計で割っていない）",
        assignment="week02",
        fails=("test_batch_rows",),
        passes=("test_vector_lecture", "test_vector_large"),
    ),
    Mistake(
        key="softmax_global_max",
        label="バッチ全体の最大値を引いている（行ごとの最大値でない）",
        assignment="week02",
        fails=("test_batch_row_scales",),
        passes=("test_vector_lecture", "test_vector_large", "test_batch_rows"),
    ),
    Mistake(
        key="softmax_in_place",
        label="softmax が入力の配列を書き換える",
        assignment="week02",
        fails=("test_input_unchanged",),
        passes=("test_vector_lecture",),
    ),
    Mistake(
        key="normalize_in_place",
        label="正規化が入力の配列を書き換える",
        assignment="week03",
        fails=("test_normalize_unchanged",),
        passes=("test_normalize_values",),
    ),
    Mistake(
        key="argmax_axis",
        label="argmax の軸が違う（axis=1 でない）",
        assignment="week04",
        fails=("test_accuracy_lecture",),
        passes=("test_predict_batch",),
    ),
    Mistake(
        key="partial_batch",
        label="最後の半端なバッチを数えない、または重みが違う",
        assignment="week04",
        fails=("test_accuracy_partial_batch",),
        passes=("test_accuracy_lecture",),
    ),
)


@dataclass
class Submission:
    """One student's autograded submission of one assignment."""

    student_id: str
    student_name: str
    assignment: str
    score: float
    max_score: float
    # Test cell name -> (score, max_score), in notebook order.
    cell_scores: dict[str, tuple[float, float]] = field(default_factory=dict)

    def passed(self, cell):
        """Return True if the test cell got full points in this submission."""
        score, max_score = self.cell_scores[cell]
        return score >= max_score - SCORE_TOLERANCE


@dataclass
class ClassResults:
    """The gradebook's assignments, students and autograded submissions."""

    assignments: list[str]
    # Test cell names per assignment, in notebook order.
    test_cells: dict[str, list[str]]
    # Student id -> display name ("" when the gradebook has no name).
    students: dict[str, str]
    submissions: list[Submission]

    def submissions_of(self, assignment):
        """Return the submissions of one assignment, ordered by student id."""
        return sorted(
            (s for s in self.submissions if s.assignment == assignment),
            key=lambda s: s.student_id,
        )


def load_results(db_url, source_dir=None):
    """Read assignments, students and scores from an nbgrader gradebook.

    Parameters
    ----------
    db_url : str
        SQLAlchemy URL of the gradebook, e.g. ``sqlite:///gradebook.db``.
    source_dir : pathlib.Path or None
        The course's ``source/`` folder. The gradebook does not store the
        order of the cells, so test cells are listed in the order of the
        source notebooks found there, and by name otherwise.

    Returns
    -------
    ClassResults
    """
    with Gradebook(db_url) as gradebook:
        assignments = [a.name for a in gradebook.assignments]
        test_cells = {}
        for assignment in gradebook.assignments:
            test_cells[assignment.name] = []
            for notebook in sorted(assignment.notebooks, key=lambda n: n.name):
                names = [cell.name for cell in notebook.grade_cells]
                source = None
                if source_dir is not None:
                    source = source_dir / assignment.name / f"{notebook.name}.ipynb"
                test_cells[assignment.name] += _in_notebook_order(names, source)
        students = {
            student.id: _display_name(student.first_name, student.last_name)
            for student in gradebook.students
        }
        submissions = []
        for name in assignments:
            for submitted in gradebook.assignment_submissions(name):
                # A cell that waits for manual grading has no score yet: 0 here.
                cell_scores = {
                    grade.name: (grade.score or 0.0, grade.max_score)
                    for notebook in submitted.notebooks
                    for grade in notebook.grades
                }
                submissions.append(
                    Submission(
                        student_id=submitted.student.id,
                        student_name=students.get(submitted.student.id, ""),
                        assignment=name,
                        score=submitted.score,
                        max_score=submitted.max_score,
                        cell_scores=cell_scores,
                    )
                )
    assignments.sort(key=_natural_key)
    return ClassResults(assignments, test_cells, students, submissions)


def _in_notebook_order(cell_names, notebook_path):
    order = {}
    if notebook_path is not None and notebook_path.is_file():
        notebook = nbformat.read(notebook_path, as_version=4)
        for index, cell in enumerate(notebook.cells):
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            if grade_id is not None:
                order[grade_id] = index
    return sorted(cell_names, key=lambda name: (order.get(name, len(order)), name))


def _display_name(first_name, last_name):
    # Japanese order: family name first.
    return " ".join(part for part in (last_name, first_name) if part)


def _natural_key(name):
    # "week2" before "week10".
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def find_mistakes(results, mistakes=KNOWN_MISTAKES):
    """Find the students whose submissions show each known mistake.

    Parameters
    ----------
    results : ClassResults
    mistakes : sequence of Mistake
        Signatures whose assignment or cells are missing from the gradebook
        are skipped with a warning.

    Returns
    -------
    dict[Mistake, list[str]]
        Student ids per mistake, sorted; only for mistakes that could be
        checked.
    """
    found = {}
    for mistake in mistakes:
        cells = set(mistake.fails) | set(mistake.passes)
        missing = cells - set(results.test_cells.get(mistake.assignment, ()))
        if missing:
            logger.warning(
                "skipping mistake %s: assignment %s has no test cells %s",
                mistake.key,
                mistake.assignment,
                ", ".join(sorted(missing)),
            )
            continue
        found[mistake] = [
            submission.student_id
            for submission in results.submissions_of(mistake.assignment)
            if _shows(submission, mistake)
        ]
    return found


def _shows(submission, mistake):
    cells = mistake.fails + mistake.passes
    if not all(cell in submission.cell_scores for cell in cells):
        return False
    failed_all = not any(submission.passed(cell) for cell in mistake.fails)
    passed_all = all(submission.passed(cell) for cell in mistake.passes)
    return failed_all and passed_all


@dataclass
class CellPassRate:
    """How many submissions got full points on one test cell."""

    assignment: str
    cell: str
    max_score: float
    submissions: int
    passed: int

    @property
    def rate(self):
        """Fraction of submissions that passed, or 0.0 without submissions."""
        return self.passed / self.submissions if self.submissions else 0.0


def cell_pass_rates(results):
    """Count, for every test cell, the submissions that got full points."""
    rates = []
    for assignment in results.assignments:
        submissions = results.submissions_of(assignment)
        for cell in results.test_cells[assignment]:
            graded = [s for s in submissions if cell in s.cell_scores]
            max_score = graded[0].cell_scores[cell][1] if graded else 0.0
            passed = sum(1 for s in graded if s.passed(cell))
            rates.append(CellPassRate(assignment, cell, max_score, len(graded), passed))
    return rates


def week_label(assignment):
    """Return a Japanese label such as "第 2 週" for an assignment "week02"."""
    match = re.fullmatch(r"week0*(\d+)", assignment)
    return f"第 {match.group(1)} 週" if match else assignment


def write_report(results, output_dir, mistakes=KNOWN_MISTAKES, title="クラスレポート"):
    """Write the instructor's and the anonymous report.

    Parameters
    ----------
    results : ClassResults
    output_dir : pathlib.Path
        Receives ``instructor/`` and ``anonymous/``. Files of an earlier
        report there are overwritten.
    mistakes : sequence of Mistake
    title : str
        Heading of the HTML pages.

    Returns
    -------
    dict[Mistake, list[str]]
        The mistakes that were checked and the student ids that made them.
    """
    found = find_mistakes(results, mistakes)
    rates = cell_pass_rates(results)
    for anonymous in (False, True):
        folder = output_dir / ("anonymous" if anonymous else "instructor")
        folder.mkdir(parents=True, exist_ok=True)
        report_plots.plot_scores(results, folder / "scores.png", week_label)
        report_plots.plot_pass_rates(rates, folder / "pass_rates.png", week_label)
        report_plots.plot_mistakes(found, folder / "mistakes.png", week_label)
        _write_scores_csv(results, folder / "scores.csv", anonymous)
        _write_pass_rates_csv(rates, folder / "pass_rates.csv")
        _write_mistakes_csv(results, found, folder / "mistakes.csv", anonymous)
        page = _render_html(results, rates, found, title, anonymous)
        (folder / "index.html").write_text(page, encoding="utf-8")
    return found


def _write_csv(path, header, rows):
    with path.open("w", encoding="utf-8-sig", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(header)
        writer.writerows(rows)


def _write_scores_csv(results, path, anonymous):
    header = ["assignment", "score", "max_score", "percent"]
    if not anonymous:
        header = ["student_id", "student_name", *header]
    rows = []
    for assignment in results.assignments:
        submissions = results.submissions_of(assignment)
        if anonymous:
            # Sorted by score so that the row order does not follow the ids.
            submissions = sorted(submissions, key=lambda s: s.score, reverse=True)
        for s in submissions:
            row = [s.assignment, s.score, s.max_score, _percent(s.score, s.max_score)]
            if not anonymous:
                row = [s.student_id, s.student_name, *row]
            rows.append(row)
    _write_csv(path, header, rows)


def _write_pass_rates_csv(rates, path):
    header = ["assignment", "test_cell", "points", "submissions", "passed", "percent"]
    rows = [
        [r.assignment, r.cell, r.max_score, r.submissions, r.passed, _percent_of(r)]
        for r in rates
    ]
    _write_csv(path, header, rows)


def _write_mistakes_csv(results, found, path, anonymous):
    header = ["mistake", "description", "assignment", "students", "submissions"]
    if not anonymous:
        header.append("student_ids")
    rows = []
    for mistake, student_ids in found.items():
        row = [
            mistake.key,
            mistake.label,
            mistake.assignment,
            len(student_ids),
            len(results.submissions_of(mistake.assignment)),
        ]
        if not anonymous:
            row.append(" ".join(student_ids))
        rows.append(row)
    _write_csv(path, header, rows)


def _percent(score, max_score):
    return round(100 * score / max_score, 1) if max_score else 0.0


def _percent_of(rate):
    return round(100 * rate.rate, 1)


def _render_html(results, rates, found, title, anonymous):
    audience = (
        "共有用（氏名と学籍番号なし）" if anonymous else "教員用（氏名と学籍番号あり）"
    )
    parts = [
        "<!DOCTYPE html>",
        '<html lang="ja"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p>{audience}。受講者 {len(results.students)} 人。</p>",
        "<h2>週ごとの得点分布</h2>",
        '<img src="scores.png" alt="週ごとの得点分布のヒストグラム">',
        _score_summary_table(results),
        "<h2>テストごとの合格率</h2>",
        "<p>満点だった提出の割合です。</p>",
        '<img src="pass_rates.png" alt="テストごとの合格率の棒グラフ">',
        _pass_rate_table(rates),
        "<h2>よくある間違い</h2>",
        "<p>隠しテストの結果から、どの間違いをした人が何人いたかを数えています。</p>",
        '<img src="mistakes.png" alt="間違いごとの人数の棒グラフ">',
        _mistake_table(results, found, anonymous),
    ]
    if not anonymous:
        parts += [
            "<h2>学生ごとの得点</h2>",
            "<p>「採点なし」は、その週の採点結果が成績表（gradebook）にないことを"
            "示します（未提出か、読めないファイルなどで採点できなかった提出）。</p>",
            _student_table(results),
        ]
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


_CSS = (
    "body{font-family:sans-serif;margin:2em;max-width:60em}"
    "table{border-collapse:collapse;margin:1em 0}"
    "th,td{border:1px solid #bbb;padding:.3em .6em;text-align:left}"
    "td.number{text-align:right}img{max-width:100%}"
)


def _table(header, rows):
    cells = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    lines = [f"<table><tr>{cells}</tr>"]
    for row in rows:
        tds = []
        for value in row:
            css = ' class="number"' if isinstance(value, int | float) else ""
            tds.append(f"<td{css}>{html.escape(str(value))}</td>")
        lines.append(f"<tr>{''.join(tds)}</tr>")
    lines.append("</table>")
    return "\n".join(lines)


def _score_summary_table(results):
    rows = []
    for assignment in results.assignments:
        submissions = results.submissions_of(assignment)
        percents = [_percent(s.score, s.max_score) for s in submissions]
        full = sum(1 for s in submissions if s.score >= s.max_score - SCORE_TOLERANCE)
        rows.append(
            [
                week_label(assignment),
                len(submissions),
                round(statistics.mean(percents), 1) if percents else "-",
                round(statistics.median(percents), 1) if percents else "-",
                full,
            ]
        )
    header = ["週", "採点数", "平均（%）", "中央値（%）", "満点の人数"]
    return _table(header, rows)


def _pass_rate_table(rates):
    rows = [
        [week_label(r.assignment), r.cell, r.max_score, r.passed, r.submissions]
        + [_percent_of(r)]
        for r in rates
    ]
    header = ["週", "テスト", "配点", "合格", "採点数", "合格率（%）"]
    return _table(header, rows)


def _mistake_table(results, found, anonymous):
    header = ["週", "間違い", "人数", "採点数"]
    if not anonymous:
        header.append("学生")
    rows = []
    for mistake, student_ids in found.items():
        row = [
            week_label(mistake.assignment),
            mistake.label,
            len(student_ids),
            len(results.submissions_of(mistake.assignment)),
        ]
        if not anonymous:
            row.append("、".join(_who(results, i) for i in student_ids))
        rows.append(row)
    return _table(header, rows)


def _who(results, student_id):
    name = results.students.get(student_id, "")
    return f"{name}（{student_id}）" if name else student_id


def _student_table(results):
    header = ["学籍番号", "氏名", *(week_label(a) for a in results.assignments)]
    scores = {(s.student_id, s.assignment): s for s in results.submissions}
    rows = []
    for student_id in sorted(results.students):
        row = [student_id, results.students[student_id]]
        for assignment in results.assignments:
            submission = scores.get((student_id, assignment))
            row.append(
                f"{submission.score:g} / {submission.max_score:g}"
                if submission
                else "採点なし"
            )
        rows.append(row)
    return _table(header, rows)


def main(argv=None):
    """Run the command line: read the gradebook and write both reports."""
    parser = argparse.ArgumentParser(
        prog="python -m grading.report",
        description="Write the class report (HTML, PNG, CSV) from the gradebook.",
    )
    parser.add_argument(
        "--course-root",
        type=Path,
        default=COURSE_ROOT,
        help="course folder with gradebook.db and source/ (default: %(default)s)",
    )
    parser.add_argument(
        "--db",
        help="SQLAlchemy URL of nbgrader's gradebook "
        "(default: sqlite:///COURSE_ROOT/gradebook.db)",
    )
    parser.add_argument(
        "--output",
        type=Path,
        help="folder for instructor/ and anonymous/ (default: COURSE_ROOT/reports)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")

    course_root = args.course_root.resolve()
    db_url = args.db or f"sqlite:///{course_root / 'gradebook.db'}"
    output = args.output or course_root / "reports"
    if db_url.startswith("sqlite:///"):
        db_path = Path(db_url.removeprefix("sqlite:///"))
        if not db_path.is_file():
            parser.error(
                f"gradebook not found: {db_path}. Run nbgrader autograde first, "
                "or pass --db with the gradebook's URL."
            )

    results = load_results(db_url, course_root / "source")
    found = write_report(results, output)
    for mistake, student_ids in found.items():
        logger.info(
            "%s, %s: %d of %d graded students",
            week_label(mistake.assignment),
            mistake.label,
            len(student_ids),
            len(results.submissions_of(mistake.assignment)),
        )
    logger.info("wrote %s and %s", output / "instructor", output / "anonymous")
    return 0


if __name__ == "__main__":
    sys.exit(main())
