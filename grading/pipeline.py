"""Run the instructor's whole grading pipeline with nbgrader's own commands.

Steps, each a function below:

1. ``generate_release``: ``nbgrader generate_assignment`` makes ``release/``
   (the student versions) from ``source/`` and records the assignments in
   the gradebook (``gradebook.db``, SQLite).
2. ``take_in``: copies the submissions into ``submitted/``, with file names
   normalised and notebooks rebuilt (see ``grading/intake.py``).
3. ``autograde``: ``nbgrader autograde`` runs every student's notebook in a
   fresh kernel and writes ``autograded/``. A student whose grading fails is
   graded again alone, so the error can be reported by name.
4. ``generate_feedback``: ``nbgrader generate_feedback`` writes HTML
   feedback to ``feedback/``.
5. ``export_grades``: ``nbgrader export`` writes ``grades.csv``.

The table at the end is read from the gradebook, with the intake's notes
and grading errors of each student below it.

Usage, from the repository root (the demo class by default)::

    python -m grading.pipeline
    python -m grading.pipeline --submissions /path/to/downloads --assignments week02
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook, MissingEntry

from grading import intake

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENTS = ("week01", "week02", "week03", "week04")
COURSE_ID = "nn-output-layer"
# Start of the intake note for code that may change what the tests see.
SUSPICIOUS = "suspicious code"


class PipelineError(Exception):
    """A pipeline step that failed for the whole class, not one student."""


@dataclass
class StudentResult:
    """Intake notes and grading errors of one student in one assignment."""

    notes: list = field(default_factory=list)
    error: str = ""


def run_nbgrader(course_root, *arguments):
    """Run one nbgrader command in the course folder and return its result.

    nbgrader starts ``alembic`` as a program, so this Python's ``bin/`` goes
    first on PATH.

    Parameters
    ----------
    course_root : pathlib.Path
    *arguments : str
        For example ``"autograde", "week01"``.

    Returns
    -------
    subprocess.CompletedProcess
        With ``stdout`` holding nbgrader's log (stderr merged in).
    """
    environment = dict(os.environ)
    bin_dir = str(Path(sys.executable).parent)
    environment["PATH"] = os.pathsep.join([bin_dir, environment.get("PATH", "")])
    return subprocess.run(
        [sys.executable, "-m", "nbgrader", *arguments],
        cwd=course_root,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        check=False,
    )


def _checked(result, step):
    if result.returncode != 0:
        raise PipelineError(f"{step} failed:\n{result.stdout}")
    return result


def point_badges_at_release(release_dir):
    """Make the Open-in-Colab badges of the student versions open themselves.

    The badge copied from ``source/`` would open the instructor's notebook,
    solutions included.

    Parameters
    ----------
    release_dir : pathlib.Path
        One assignment's folder in ``release/``.
    """
    for path in sorted(release_dir.glob("*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        for cell in notebook.cells:
            if "colab-badge" in cell.metadata.get("tags", []):
                cell.source = cell.source.replace(
                    "/blob/main/source/", "/blob/main/release/"
                )
        nbformat.write(notebook, path)


def _assignment_pattern(course_root, assignments):
    """Return one nbgrader assignment argument for ``assignments``.

    Each nbgrader command starts in about 4 s, so all assignments are handled
    in one command ("*") when the list covers every assignment in source/.
    """
    available = sorted(path.name for path in (course_root / "source").iterdir())
    if sorted(assignments) == available:
        return ["*"]
    return list(assignments)


def generate_release(course_root, assignments):
    """Generate ``release/<assignment>/`` from ``source/`` for each assignment."""
    for pattern in _assignment_pattern(course_root, assignments):
        _checked(
            run_nbgrader(course_root, "generate_assignment", pattern, "--force"),
            f"nbgrader generate_assignment {pattern}",
        )
    for assignment in assignments:
        point_badges_at_release(course_root / "release" / assignment)


def take_in(course_root, submissions_dir, assignments):
    """Copy submissions into ``submitted/`` and return notes by student.

    Returns
    -------
    dict of (str, str) to StudentResult
        Keyed by (student, assignment).
    """
    results = {}
    for report in intake.take_in(submissions_dir, course_root, assignments):
        result = results.setdefault(
            (report.student, report.assignment), StudentResult()
        )
        prefix = f"{report.notebook}.ipynb"
        if report.source_file:
            prefix += f" (from '{report.source_file}')"
        result.notes.extend(f"{prefix}: {note}" for note in report.notes())
        if report.error:
            result.error = report.error
    return results


def take_in_archive(course_root, archive_path, assignments):
    """Take in an LMS zip download of one assignment; see ``take_in``."""
    if len(assignments) != 1:
        raise PipelineError(
            f"{archive_path.name} is a zip archive, which holds one assignment; "
            "name it with --assignments, for example --assignments week02"
        )
    with tempfile.TemporaryDirectory() as folder:
        shutil.copy(archive_path, Path(folder) / f"{assignments[0]}.zip")
        return take_in(course_root, Path(folder), assignments)


def _autograded_notebooks(course_root, student, assignment):
    folder = course_root / "autograded" / student / assignment
    return sorted(folder.glob("*.ipynb")) if folder.is_dir() else []


def _failure_reason(log):
    """Return the line of an nbgrader log that gives the reason for a failure."""
    patterns = (
        r"(DeadKernelError.*)",
        r"(Kernel died.*)",
        r"(CellTimeoutError.*)",
        r"(UnresponsiveKernelError.*)",
        r"(the kernel became unresponsive.*)",
        r"(\w*(?:Error|Exception): .*)",
    )
    for pattern in patterns:
        matches = re.findall(pattern, log)
        if matches:
            return matches[-1].strip()
    lines = [line for line in log.splitlines() if "ERROR" in line]
    return lines[-1].strip() if lines else "nbgrader autograde failed"


def autograde(course_root, submissions):
    """Autograde all submissions; return errors by (student, assignment).

    One nbgrader run grades every submission in ``submitted/`` and continues
    past a notebook that breaks its kernel. Each submission left without an
    autograded notebook is then graded alone, to record the reason.

    Parameters
    ----------
    course_root : pathlib.Path
    submissions : list of (str, str)
        (student, assignment) pairs that were taken in.

    Returns
    -------
    dict of (str, str) to str
        Error message for each submission that could not be graded.
    """
    run_nbgrader(course_root, "autograde", "*", "--force")
    errors = {}
    for student, assignment in submissions:
        if _autograded_notebooks(course_root, student, assignment):
            continue
        result = run_nbgrader(
            course_root, "autograde", assignment, "--student", student, "--force"
        )
        if not _autograded_notebooks(course_root, student, assignment):
            errors[(student, assignment)] = (
                f"autograde failed: {_failure_reason(result.stdout)}"
            )
    return errors


def generate_feedback(course_root):
    """Write HTML feedback for every autograded submission."""
    _checked(
        run_nbgrader(course_root, "generate_feedback", "*", "--force"),
        "nbgrader generate_feedback",
    )


def export_grades(course_root, csv_path):
    """Export the gradebook to a CSV file with ``nbgrader export``."""
    _checked(
        run_nbgrader(course_root, "export", "--to", str(csv_path)),
        "nbgrader export",
    )


def read_scores(course_root):
    """Read every student's score per assignment from the gradebook.

    Returns
    -------
    scores : dict of (str, str) to (float, float)
        (student, assignment) to (score, max_score), for submissions only.
    max_scores : dict of str to float
        Assignment to its maximum score.
    """
    database = f"sqlite:///{course_root / 'gradebook.db'}"
    scores = {}
    max_scores = {}
    with Gradebook(database, COURSE_ID) as gradebook:
        for assignment in gradebook.assignments:
            max_scores[assignment.name] = assignment.max_score
            for student in gradebook.students:
                try:
                    submission = gradebook.find_submission(assignment.name, student.id)
                except MissingEntry:
                    continue
                scores[(student.id, assignment.name)] = (
                    submission.score,
                    submission.max_score,
                )
    return scores, max_scores


def format_table(scores, max_scores, results):
    """Return the table of students and scores, then the notes per student.

    A score is shown as ``ERROR`` when grading failed. A ``*`` marks a score
    with notes below the table, and a ``!`` one whose notebook contains
    suspicious code, because the score may be wrong and needs a check by hand.
    """
    assignments = sorted(max_scores)
    students = sorted({student for student, _ in scores} | {s for s, _ in results})
    header = ["student", *assignments, "total"]
    rows = []
    for student in students:
        row = [student]
        total = 0.0
        for assignment in assignments:
            result = results.get((student, assignment), StudentResult())
            if result.error:
                row.append("ERROR")
                continue
            if (student, assignment) not in scores:
                row.append("-")
                continue
            score = scores[(student, assignment)][0]
            total += score
            mark = "*" if result.notes else ""
            if any(SUSPICIOUS in note for note in result.notes):
                mark = "!"
            row.append(f"{score:g}/{max_scores[assignment]:g}{mark}")
        row.append(f"{total:g}/{sum(max_scores.values()):g}")
        rows.append(row)

    widths = [
        max(len(str(line[i])) for line in [header, *rows]) for i in range(len(header))
    ]
    lines = [
        "  ".join(text.ljust(width) for text, width in zip(header, widths, strict=True))
    ]
    lines.append("  ".join("-" * width for width in widths))
    for row in rows:
        lines.append(
            "  ".join(
                text.ljust(width) for text, width in zip(row, widths, strict=True)
            )
        )

    noted = [
        (key, result)
        for key, result in sorted(results.items())
        if result.notes or result.error
    ]
    if noted:
        lines.append("")
        lines.append(
            "Notes (* and ! above; ERROR: the notebook was not graded; "
            "! : check the score by hand):"
        )
        for (student, assignment), result in noted:
            messages = list(result.notes)
            if result.error and f"ERROR: {result.error}" not in " ".join(messages):
                messages.insert(0, f"ERROR: {result.error}")
            for message in messages:
                lines.append(f"  {student} {assignment}: {message}")
    return "\n".join(lines)


def run_pipeline(course_root, submissions_dir, assignments, csv_path=None):
    """Run all steps and return the printed table as a string."""
    course_root = Path(course_root).resolve()
    submissions_dir = Path(submissions_dir).resolve()
    csv_path = Path(csv_path or course_root / "grades.csv").resolve()

    generate_release(course_root, assignments)
    if submissions_dir.suffix.lower() == ".zip":
        results = take_in_archive(course_root, submissions_dir, assignments)
    else:
        results = take_in(course_root, submissions_dir, assignments)
    graded = [key for key, result in sorted(results.items()) if not result.error]
    if graded:
        for key, message in autograde(course_root, graded).items():
            results[key].error = message
        generate_feedback(course_root)
    export_grades(course_root, csv_path)
    scores, max_scores = read_scores(course_root)
    return format_table(scores, max_scores, results)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--course-root",
        type=Path,
        default=PROJECT_ROOT,
        help="course folder with nbgrader_config.py and source/ (default: this repository)",
    )
    parser.add_argument(
        "--submissions",
        type=Path,
        help="folder laid out as <student>/<assignment>/*.ipynb, or an LMS zip "
        "download of one assignment (default: demo/submissions in the course folder)",
    )
    parser.add_argument(
        "--assignments",
        nargs="+",
        default=list(ASSIGNMENTS),
        help="assignment ids to process (default: all four weeks)",
    )
    parser.add_argument(
        "--csv",
        type=Path,
        help="where to export grades (default: grades.csv in the course folder)",
    )
    arguments = parser.parse_args(argv)

    submissions = (
        arguments.submissions or arguments.course_root / "demo" / "submissions"
    )
    try:
        table = run_pipeline(
            arguments.course_root, submissions, arguments.assignments, arguments.csv
        )
    except PipelineError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
