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
5. ``export_grades``: writes ``grades.csv`` from the gradebook's scores,
   with each row's status (graded, error or not submitted).

The table at the end is read from the gradebook, with the intake's notes
and grading errors of each student below it.

The demo class and a real class never share a course folder: a run on the
demo class writes ``DEMO_MARKER``, and a run with ``--submissions`` stops
where it finds that file (``--clear`` removes the demo's files).

Usage, from the repository root (the demo class by default)::

    python -m grading.pipeline
    python -m grading.pipeline --clear
    python -m grading.pipeline --submissions /path/to/downloads --assignments week02
"""

import argparse
import csv
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
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
# The file that marks a course folder whose gradebook contains the demo class.
DEMO_MARKER = ".demo-class"
# Files and folders that grading writes in a course folder: nbgrader's working
# files and the pipeline's and the report's outputs. ``--clear`` removes these.
GRADING_OUTPUTS = (
    "submitted",
    "autograded",
    "feedback",
    "gradebook.db",
    ".nbgrader.log",
    "grades.csv",
    "reports",
    DEMO_MARKER,
)
# Student id under which the intake reports archive members it skipped.
ARCHIVE_STUDENT = "(archive)"


class PipelineError(Exception):
    """A pipeline step that failed for the whole class, not one student."""


@dataclass
class StudentResult:
    """Intake notes and grading errors of one student in one assignment."""

    notes: list = field(default_factory=list)
    error: str = ""
    # The student's name from an LMS archive, or "".
    name: str = ""


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
        result.notes.extend(_intake_notes(report))
        result.name = result.name or report.student_name
        if report.error:
            result.error = report.error
    return results


def _intake_notes(report):
    """Return the intake's notes of one notebook, each naming the file once."""
    notebook = f"{report.notebook}.ipynb"
    notes = report.notes()
    if not report.source_file or report.source_file == notebook:
        return [f"{notebook}: {note}" for note in notes]
    # The prefix names the renamed file, so the intake's own note about the
    # renaming is left out.
    prefix = f"'{report.source_file}' graded as {notebook}"
    notes = [note for note in notes if not note.startswith("graded file ")]
    return [f"{prefix}: {note}" for note in notes] or [prefix]


def record_student_names(course_root, results):
    """Store the students' names from LMS archives in the gradebook.

    The whole name goes into ``last_name``, because an LMS download does not
    say which part is the family name. The class report, ``grades.csv`` and
    the table then show it next to the participant number.
    """
    named = {
        student: result.name
        for (student, _), result in results.items()
        if result.name and student != ARCHIVE_STUDENT
    }
    if not named:
        return
    database = f"sqlite:///{course_root / 'gradebook.db'}"
    with Gradebook(database, COURSE_ID) as gradebook:
        for student, name in sorted(named.items()):
            gradebook.update_or_create_student(student, last_name=name)


def read_student_names(course_root):
    """Return the gradebook's student names by id, family name first."""
    database = f"sqlite:///{course_root / 'gradebook.db'}"
    with Gradebook(database, COURSE_ID) as gradebook:
        return {
            student.id: " ".join(
                part for part in (student.last_name, student.first_name) if part
            )
            for student in gradebook.students
        }


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


def grade_rows(course_root, results):
    """Return one row per student and assignment, with the grading status.

    The score is the gradebook's. The status is ``graded`` when the
    submission has an autograded notebook and a gradebook entry, ``error``
    when it was taken in but not graded, and ``not submitted`` otherwise.
    So a missing or failed submission never reads as a score of 0.

    Parameters
    ----------
    course_root : pathlib.Path
    results : dict of (str, str) to StudentResult
        This run's intake notes and errors, whose error messages become the
        ``reason`` of the rows they concern.

    Returns
    -------
    list of dict
        Keys ``assignment``, ``student_id``, ``last_name``, ``first_name``,
        ``status``, ``score`` (empty unless graded), ``max_score`` and
        ``reason``.
    """
    scores, max_scores = read_scores(course_root)
    database = f"sqlite:///{course_root / 'gradebook.db'}"
    with Gradebook(database, COURSE_ID) as gradebook:
        names = {
            student.id: (student.last_name or "", student.first_name or "")
            for student in gradebook.students
        }
    submitted_dir = course_root / "submitted"
    students = set(names) | {student for student, _ in results}
    if submitted_dir.is_dir():
        students |= {path.name for path in submitted_dir.iterdir() if path.is_dir()}
    students.discard(ARCHIVE_STUDENT)

    rows = []
    for assignment in sorted(max_scores):
        for student in sorted(students):
            result = results.get((student, assignment), StudentResult())
            graded = (student, assignment) in scores and _autograded_notebooks(
                course_root, student, assignment
            )
            status, score, reason = "not submitted", "", ""
            if result.error:
                status, reason = "error", result.error
            elif graded:
                status, score = "graded", scores[(student, assignment)][0]
            elif (submitted_dir / student / assignment).is_dir():
                # Taken in by an earlier run whose messages are gone.
                status = "error"
                reason = "taken in but not graded; run the pipeline again to see why"
            last_name, first_name = names.get(student, ("", ""))
            rows.append(
                {
                    "assignment": assignment,
                    "student_id": student,
                    "last_name": last_name,
                    "first_name": first_name,
                    "status": status,
                    "score": score,
                    "max_score": max_scores[assignment],
                    "reason": reason,
                }
            )
    return rows


def export_grades(course_root, csv_path, results):
    """Write every student's status and score per assignment to a CSV file.

    See ``grade_rows`` for the columns. ``nbgrader export`` is not used
    because it writes 0 for a submission that was never graded.
    """
    rows = grade_rows(course_root, results)
    with open(csv_path, "w", encoding="utf-8", newline="") as file:
        writer = csv.DictWriter(
            file,
            fieldnames=[
                "assignment",
                "student_id",
                "last_name",
                "first_name",
                "status",
                "score",
                "max_score",
                "reason",
            ],
        )
        writer.writeheader()
        writer.writerows(rows)


def check_course_root(course_root, demo_submissions=None):
    """Stop before grading would mix the demo class with a real class.

    Parameters
    ----------
    course_root : pathlib.Path
    demo_submissions : pathlib.Path, optional
        The demo class's submissions when this run grades the demo class;
        None for a real class.

    Raises
    ------
    PipelineError
        If a real class is to be graded where the demo class was graded, or
        the demo class where the gradebook contains other students.
    """
    clear_command = "python -m grading.pipeline --clear"
    if course_root.resolve() != PROJECT_ROOT:
        clear_command += f" --course-root {course_root}"
    if demo_submissions is None and (course_root / DEMO_MARKER).exists():
        raise PipelineError(
            f"{course_root} contains the demo class's grades (gradebook.db, "
            "submitted/, autograded/, feedback/, grades.csv, reports/), which "
            "would be mixed with this class's in the table, grades.csv and the "
            f"class reports. Remove them with '{clear_command}', then run "
            "this command again."
        )
    if demo_submissions is not None:
        others = sorted(
            set(_gradebook_students(course_root)) - demo_student_ids(demo_submissions)
        )
        if others:
            raise PipelineError(
                f"{course_root}/gradebook.db contains {len(others)} students who "
                f"are not in the demo class ({', '.join(others[:5])}"
                f"{', ...' if len(others) > 5 else ''}), and the demo class "
                "would be graded into it. Back up that class's files and remove "
                f"them with '{clear_command}', or grade the demo class in a copy "
                "of the course (--course-root)."
            )


def demo_student_ids(submissions_dir):
    """Return the student ids that the demo class's submissions give.

    These are the folder names and the ids of the students in each LMS
    archive (``intake.student_id_from_name``).
    """
    ids = {path.name for path in submissions_dir.iterdir() if path.is_dir()}
    for archive_path in submissions_dir.glob("*.zip"):
        with zipfile.ZipFile(archive_path) as archive:
            for name in archive.namelist():
                parts = Path(name).parts
                if parts:
                    ids.add(intake.student_id_from_name(parts[0]))
    return ids


def _gradebook_students(course_root):
    path = course_root / "gradebook.db"
    if not path.is_file():
        return []
    with Gradebook(f"sqlite:///{path}", COURSE_ID) as gradebook:
        return [student.id for student in gradebook.students]


def clear_course(course_root):
    """Remove the files that grading wrote in ``course_root``.

    Only ``GRADING_OUTPUTS`` are removed; ``source/``, ``release/`` and the
    submissions' original folder stay.

    Returns
    -------
    list of str
        The names that were removed.
    """
    removed = []
    for name in GRADING_OUTPUTS:
        path = course_root / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()
        else:
            continue
        removed.append(name)
    return removed


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


def format_table(scores, max_scores, results, names=None):
    """Return the table of students and scores, then the notes per student.

    Each cell is a score, ``ERROR`` (taken in or run, but not graded) or
    ``-`` (nothing submitted). A ``*`` marks a score with notes below the
    table, and a ``!`` one whose notebook contains suspicious code, because
    the score may be wrong and needs a check by hand. A legend under the
    table explains these marks. A student's name from ``names`` (student id
    to name) follows the id.
    """
    names = names or {}
    assignments = sorted(max_scores)
    students = sorted({student for student, _ in scores} | {s for s, _ in results})
    header = ["student", *assignments, "total"]
    rows = []
    for student in students:
        row = [f"{student} ({names[student]})" if names.get(student) else student]
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

    lines.append("")
    lines.append(
        "ERROR: not graded (the reason is below); -: nothing submitted; "
        "*: graded, with notes below; !: graded, but the notebook contains "
        "suspicious code, so check the score by hand."
    )
    noted = [
        (key, result)
        for key, result in sorted(results.items())
        if result.notes or result.error
    ]
    if noted:
        lines.append("")
        lines.append("Notes:")
        for (student, assignment), result in noted:
            messages = list(result.notes)
            if result.error and f"ERROR: {result.error}" not in " ".join(messages):
                messages.insert(0, f"ERROR: {result.error}")
            for message in messages:
                lines.append(f"  {student} {assignment}: {message}")
    return "\n".join(lines)


def run_pipeline(course_root, submissions_dir, assignments, csv_path=None, demo=False):
    """Run all steps and return the printed table as a string.

    Parameters
    ----------
    course_root, submissions_dir : pathlib.Path or str
    assignments : list of str
    csv_path : pathlib.Path or str, optional
        Default: ``grades.csv`` in the course folder.
    demo : bool
        True when ``submissions_dir`` is the demo class; see
        ``check_course_root``.

    Raises
    ------
    PipelineError
        If a step failed for the whole class, including a grading run that
        graded no submission for one shared reason (no sandbox, say).
    """
    course_root = Path(course_root).resolve()
    submissions_dir = Path(submissions_dir).resolve()
    csv_path = Path(csv_path or course_root / "grades.csv").resolve()

    check_course_root(course_root, submissions_dir if demo else None)
    if demo:
        (course_root / DEMO_MARKER).write_text(
            "The gradebook in this folder contains the demo class "
            "(python -m grading.pipeline).\n",
            encoding="utf-8",
        )
    generate_release(course_root, assignments)
    try:
        if submissions_dir.suffix.lower() == ".zip":
            results = take_in_archive(course_root, submissions_dir, assignments)
        else:
            results = take_in(course_root, submissions_dir, assignments)
    except intake.IntakeError as error:
        raise PipelineError(str(error)) from error
    record_student_names(course_root, results)
    graded = [key for key, result in sorted(results.items()) if not result.error]
    if graded:
        errors = autograde(course_root, graded)
        for key, message in errors.items():
            results[key].error = message
        reasons = set(errors.values())
        if len(errors) == len(graded) and len(reasons) == 1:
            reason = reasons.pop().removeprefix("autograde failed: ")
            raise PipelineError(
                f"nbgrader autograde graded no submission ({len(graded)} taken "
                f"in), and every one failed with: {reason}"
            )
        # Feedback needs at least one autograded notebook.
        if len(errors) < len(graded):
            generate_feedback(course_root)
    export_grades(course_root, csv_path, results)
    scores, max_scores = read_scores(course_root)
    return format_table(scores, max_scores, results, read_student_names(course_root))


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
    parser.add_argument(
        "--clear",
        action="store_true",
        help="remove what grading wrote in the course folder ("
        + ", ".join(GRADING_OUTPUTS)
        + "), keeping source/ and release/, then stop",
    )
    arguments = parser.parse_args(argv)

    if arguments.clear:
        removed = clear_course(arguments.course_root.resolve())
        print(
            f"removed from {arguments.course_root}: {', '.join(removed) or 'nothing'}"
        )
        return 0
    demo = arguments.submissions is None
    submissions = (
        arguments.submissions or arguments.course_root / "demo" / "submissions"
    )
    try:
        table = run_pipeline(
            arguments.course_root,
            submissions,
            arguments.assignments,
            arguments.csv,
            demo=demo,
        )
    except PipelineError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
