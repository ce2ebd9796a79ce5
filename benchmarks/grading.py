"""Grading: ``nbgrader autograde`` on the week-4 reference solution and its floor.

Each measurement builds a course of its own in a temporary folder, with the
project's ``nbgrader_config.py`` and a copy of ``source/week04``, and grades
simulated students whose submissions are the released notebook with the
reference solutions filled in. The floor executes the same notebook, as
autograde runs it (hidden tests restored), with nbclient alone.
"""

import copy
import fnmatch
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import numpy as np
from nbclient import NotebookClient

from benchmarks import MYMODULES, PROJECT_ROOT
from benchmarks.report import PartResult, Row, Target
from benchmarks.timing import Case, median, time_interleaved
from mnist import load_mnist_split

ASSIGNMENT = "week04"
SOURCE_NOTEBOOK = PROJECT_ROOT / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
PROJECT_CONFIG = PROJECT_ROOT / "nbgrader_config.py"
SANDBOX_MODULE = PROJECT_ROOT / "grading" / "sandbox.py"
SOLUTION_MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")

# Concurrent autograde processes in the "at once" measurement, as many as the
# cores of the machines that run the course, and the glob that selects each
# process's share of the student ids s01, s02, ...
WORKERS = 2
SHARE_PATTERNS = ("s[0-9][13579]", "s[0-9][02468]")

# Kernels graded at once get one BLAS thread each. With OpenBLAS's default of
# one thread per core, two kernels would run four threads on two cores, and a
# thread that waits for a core stalls every matrix product of its kernel.
ONE_THREAD_ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}

SINGLE = "autograde, 1 submission"
SINGLE_SANDBOXED = "autograde, sandboxed, 1 submission"
SINGLE_FLOOR = "floor: nbclient, 1 notebook"


def serial_name(size):
    """Return the row name of a serial autograde of ``size`` students."""
    return f"autograde, class of {size}"


def floor_name(size):
    """Return the row name of the nbclient floor for ``size`` notebooks."""
    return f"floor: nbclient, {size} notebooks"


def parallel_name(size):
    """Return the row name of ``size`` students graded by concurrent processes."""
    return f"autograde, {WORKERS} at once, class of {size}"


def sandbox_name(size):
    """Return the row name of a sandboxed autograde of ``size`` students."""
    return f"autograde, sandboxed, class of {size}"


def student_ids(count):
    """Return ``count`` student ids that sort in order: s01, s02, ..."""
    return [f"s{number:02d}" for number in range(1, count + 1)]


def run(repeats, class_sizes, sandbox=True):
    """Time autograde on classes of the given sizes next to nbclient alone.

    Parameters
    ----------
    repeats : int
        Timed rounds of each case; every round grades every class once.
    class_sizes : list of int
        Numbers of simulated students. A single submission is always measured.
    sandbox : bool
        Whether to also grade in the project's sandbox, where it works.

    Returns
    -------
    PartResult
        Without rows, and with the reason in ``findings``, where the week-4
        source notebook or the project's nbgrader settings do not exist.
    """
    part = PartResult(
        key="grading",
        title=f"Grading the {ASSIGNMENT} reference solution (seconds per submission)",
    )
    missing = [path for path in (SOURCE_NOTEBOOK, PROJECT_CONFIG) if not path.is_file()]
    if missing:
        names = ", ".join(str(path.relative_to(PROJECT_ROOT)) for path in missing)
        part.findings.append(f"Not measured: {names} not found.")
        return part

    # Every kernel then reads the parsed-MNIST cache, as on a grader's machine
    # after the first submission.
    load_mnist_split("test")
    sizes = sorted(set(class_sizes) - {1})

    with tempfile.TemporaryDirectory(prefix="grading-benchmark-") as work:
        work = Path(work)
        template = _build_template(work / "template")
        courses = {1: Course(work / "class-1", template, 1)}
        parallel = {}
        for size in sizes:
            courses[size] = Course(work / f"class-{size}", template, size)
            parallel[size] = Course(work / f"parallel-{size}", template, size)
        sandboxed = {}
        if sandbox:
            sandboxed = _build_sandboxed_courses(work, template, [1] + sizes, part)

        # Autograde's first run also warms the file cache and the kernel's imports.
        graded_notebook = courses[1].graded_notebook()
        execute_notebook(graded_notebook, courses[1])
        samples = time_interleaved(
            _cases(courses, parallel, sandboxed, sizes, graded_notebook),
            repeats,
            warmup=0,
        )

        checks = _check_grades(courses, parallel, sandboxed)
        breakdown = _breakdown(graded_notebook, courses[1])
    startup = _time_nbgrader_startup(repeats)

    _summarize(part, samples, sizes, sandboxed)
    part.findings.extend(checks)
    part.findings.extend(breakdown)
    part.findings.extend(startup)
    return part


def _build_sandboxed_courses(work, template, sizes, part):
    """Return sandboxed courses by size, or none where the sandbox does not work."""
    problem = _find_sandbox_problem()
    sandboxed = {}
    if problem is None:
        for size in sizes:
            sandboxed[size] = Course(
                work / f"sandboxed-{size}", template, size, sandboxed=True
            )
        try:
            sandboxed[1].autograde()
        except NbgraderError as error:
            problem = f"autograde with the sandbox failed: {error.summary()}"
            sandboxed = {}
    if problem is not None:
        part.findings.append(f"Sandboxed grading not measured: {problem}")
    return sandboxed


def _cases(courses, parallel, sandboxed, sizes, graded_notebook):
    def execute_class(course, size):
        for _ in range(size):
            execute_notebook(graded_notebook, course)

    cases = [
        Case(SINGLE, courses[1].autograde),
        Case(SINGLE_FLOOR, lambda: execute_class(courses[1], 1)),
    ]
    if 1 in sandboxed:
        cases.append(Case(SINGLE_SANDBOXED, sandboxed[1].autograde))
    for size in sizes:
        course = courses[size]
        cases.append(Case(serial_name(size), course.autograde))
        cases.append(
            Case(
                floor_name(size),
                lambda course=course, size=size: execute_class(course, size),
            )
        )
        cases.append(Case(parallel_name(size), parallel[size].autograde_in_parallel))
        if size in sandboxed:
            cases.append(Case(sandbox_name(size), sandboxed[size].autograde))
    return cases


class Course:
    """A temporary nbgrader course with simulated submissions of week 4.

    Parameters
    ----------
    root : pathlib.Path
        The course folder to create.
    template : pathlib.Path
        A course folder in which the assignment was generated.
    size : int
        Number of students, each submitting the reference solution.
    sandboxed : bool
        Whether autograde runs its kernels in the project's sandbox.
    """

    def __init__(self, root, template, size, sandboxed=False):
        self.root = root
        self.students = student_ids(size)
        shutil.copytree(template, root, symlinks=True)
        _write_config(root, sandboxed)
        submission = nbformat.read(root / "submission.ipynb", as_version=4)
        for student in self.students:
            folder = root / "submitted" / student / ASSIGNMENT
            folder.mkdir(parents=True)
            nbformat.write(submission, folder / f"{ASSIGNMENT}.ipynb")

    def autograde(self):
        """Run ``nbgrader autograde`` on the whole class, as an instructor would."""
        _run_nbgrader(["nbgrader", "autograde", ASSIGNMENT, "--force"], self.root)

    def autograde_in_parallel(self):
        """Run ``WORKERS`` autograde processes at once, each on its share of students."""
        patterns = [
            pattern
            for pattern in SHARE_PATTERNS
            if any(fnmatch.fnmatchcase(student, pattern) for student in self.students)
        ]
        processes = [
            subprocess.Popen(
                [
                    "nbgrader",
                    "autograde",
                    ASSIGNMENT,
                    "--force",
                    f"--student={pattern}",
                ],
                cwd=self.root,
                env=dict(_nbgrader_environment(), **ONE_THREAD_ENV),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            for pattern in patterns
        ]
        failures = []
        for process in processes:
            _, errors = process.communicate()
            if process.returncode != 0:
                failures.append(errors[-2000:])
        if failures:
            raise RuntimeError("parallel autograde failed:\n" + "\n".join(failures))

    def graded_students(self):
        """Return the students whose graded notebook exists."""
        return [
            student
            for student in self.students
            if (self.root / "autograded" / student / ASSIGNMENT).is_dir()
        ]

    def scores(self):
        """Return each graded student's (score, maximum score) from the gradebook."""
        from nbgrader.api import Gradebook, MissingEntry

        scores = {}
        with Gradebook(f"sqlite:///{self.root / 'gradebook.db'}") as gradebook:
            for student in self.students:
                try:
                    submission = gradebook.find_submission(ASSIGNMENT, student)
                except MissingEntry:
                    continue
                scores[student] = (submission.score, submission.max_score)
        return scores

    def graded_notebook(self):
        """Return the notebook that autograde executes, with hidden tests restored.

        Autograde writes it with outputs; they are cleared here, so that the
        floor executes exactly the cells that autograde executes.
        """
        self.autograde()
        path = self.root / "autograded" / self.students[0] / ASSIGNMENT
        notebook = nbformat.read(path / f"{ASSIGNMENT}.ipynb", as_version=4)
        for cell in notebook.cells:
            if cell.cell_type == "code":
                cell.outputs = []
                cell.execution_count = None
        return notebook


def execute_notebook(notebook, course):
    """Execute a copy of ``notebook`` with nbclient in the first student's folder."""
    folder = course.root / "submitted" / course.students[0] / ASSIGNMENT
    client = NotebookClient(
        copy.deepcopy(notebook),
        kernel_name=notebook.metadata.get("kernelspec", {}).get("name", "python3"),
        resources={"metadata": {"path": str(folder)}},
        timeout=300,
    )
    client.execute()
    return client


def _build_template(root):
    """Create a course folder with week 4 generated and a reference submission."""
    (root / "source").mkdir(parents=True)
    shutil.copytree(SOURCE_NOTEBOOK.parent, root / "source" / ASSIGNMENT)
    # The notebook's setup cell looks for mymodules in the folders above it.
    (root / "mymodules").symlink_to(MYMODULES, target_is_directory=True)
    _write_config(root, sandboxed=False)
    _run_nbgrader(["nbgrader", "generate_assignment", ASSIGNMENT, "--force"], root)

    released = root / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    submission = fill_in_solutions(
        nbformat.read(released, as_version=4),
        nbformat.read(SOURCE_NOTEBOOK, as_version=4),
    )
    nbformat.write(submission, root / "submission.ipynb")
    return root


def fill_in_solutions(released, source):
    """Return the released notebook with every solution cell taken from the source.

    The solution markers are removed, as if a student had typed the reference
    solution into the released notebook.
    """
    solutions = {}
    for cell in source.cells:
        metadata = cell.metadata.get("nbgrader", {})
        if metadata.get("solution"):
            lines = cell.source.splitlines()
            kept = [line for line in lines if line.strip() not in SOLUTION_MARKERS]
            solutions[metadata["grade_id"]] = "\n".join(kept)

    submission = copy.deepcopy(released)
    for cell in submission.cells:
        metadata = cell.metadata.get("nbgrader", {})
        if metadata.get("solution"):
            cell.source = solutions[metadata["grade_id"]]
    return submission


def _write_config(root, sandboxed):
    lines = [
        "c = get_config()  # noqa: F821",
        f"load_subconfig({str(PROJECT_CONFIG)!r})  # noqa: F821",
        f"c.CourseDirectory.root = {str(root)!r}",
    ]
    # Both variants set the preprocessors, whatever the project's settings choose.
    if sandboxed:
        lines += [
            "import sys",
            f"sys.path.insert(0, {str(PROJECT_ROOT)!r})",
            "from grading.sandbox import autograde_preprocessors",
            "c.Autograde.autograde_preprocessors = autograde_preprocessors()",
        ]
    else:
        lines += [
            "from nbgrader.converters.autograde import Autograde",
            "c.Autograde.autograde_preprocessors = (",
            '    Autograde.class_traits()["autograde_preprocessors"].default()',
            ")",
        ]
    (root / "nbgrader_config.py").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _nbgrader_environment():
    # nbgrader starts alembic as a program, so the environment's bin/ comes first.
    bin_folder = str(Path(sys.executable).parent)
    return dict(os.environ, PATH=bin_folder + os.pathsep + os.environ.get("PATH", ""))


class NbgraderError(RuntimeError):
    """An nbgrader command that exited with an error, with its stderr."""

    def __init__(self, command, folder, returncode, stderr):
        super().__init__(
            f"{' '.join(command)} failed in {folder} with exit code "
            f"{returncode}:\n{stderr[-3000:]}"
        )
        self.stderr = stderr

    def summary(self):
        """Return the first line of stderr that names an error, or the last line."""
        lines = [line.strip() for line in self.stderr.splitlines() if line.strip()]
        for line in lines:
            if "No such file" in line or "Error" in line.split(":")[0]:
                return line
        return lines[-1] if lines else "no output"


def _run_nbgrader(command, folder):
    completed = subprocess.run(
        command,
        cwd=folder,
        env=_nbgrader_environment(),
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise NbgraderError(command, folder, completed.returncode, completed.stderr)


def _find_sandbox_problem():
    """Return why the project's sandbox cannot be measured here, or None."""
    if not SANDBOX_MODULE.is_file():
        return "grading/sandbox.py not found."
    if shutil.which("bwrap") is None:
        return "bwrap (Debian package bubblewrap) not found."
    if "def autograde_preprocessors" not in SANDBOX_MODULE.read_text(encoding="utf-8"):
        return "grading/sandbox.py has no autograde_preprocessors."
    return None


def _check_grades(courses, parallel, sandboxed):
    """Compare the scores of every way of grading and return one line about them.

    Raises
    ------
    RuntimeError
        If a student was not graded or scores differ between the ways of grading.
    """
    expected = courses[1].scores()[courses[1].students[0]]
    graded = [("serial", size, course) for size, course in courses.items()]
    graded += [
        (f"{WORKERS} at once", size, course) for size, course in parallel.items()
    ]
    graded += [("sandboxed", size, course) for size, course in sandboxed.items()]

    problems = []
    for way, size, course in graded:
        missing = sorted(set(course.students) - set(course.graded_students()))
        if missing:
            problems.append(f"class of {size}, {way}: {missing} not graded")
        scores = course.scores()
        wrong = {
            student: score for student, score in scores.items() if score != expected
        }
        if wrong or len(scores) != len(course.students):
            problems.append(f"class of {size}, {way}: scores {scores}")
    if problems:
        raise RuntimeError(
            f"grades differ from {expected} between ways of grading: "
            + "; ".join(problems)
        )

    ways = ", ".join(sorted({way for way, _, _ in graded}))
    return [
        f"Every submission scored {expected[0]:g} of {expected[1]:g} points in every "
        f"way of grading ({ways}), and every student was graded."
    ]


def _breakdown(notebook, course):
    """Time the kernel start and each kind of cell of one nbclient execution."""
    started = time.perf_counter()
    client = NotebookClient(
        copy.deepcopy(notebook),
        kernel_name=notebook.metadata.get("kernelspec", {}).get("name", "python3"),
        resources={
            "metadata": {
                "path": str(course.root / "submitted" / course.students[0] / ASSIGNMENT)
            }
        },
        timeout=300,
    )
    kinds = {"setup and data loading": 0.0, "student code": 0.0, "tests": 0.0}
    slowest = ("", 0.0)
    with client.setup_kernel():
        kernel_start = time.perf_counter() - started
        for index, cell in enumerate(client.nb.cells):
            if cell.cell_type != "code":
                continue
            cell_started = time.perf_counter()
            client.execute_cell(cell, index)
            seconds = time.perf_counter() - cell_started
            metadata = cell.metadata.get("nbgrader", {})
            if metadata.get("grade"):
                kinds["tests"] += seconds
            elif metadata.get("solution"):
                kinds["student code"] += seconds
            else:
                kinds["setup and data loading"] += seconds
            if seconds > slowest[1]:
                slowest = (metadata.get("grade_id", f"cell {index}"), seconds)
    total = time.perf_counter() - started
    parts = ", ".join(f"{name} {seconds:.2f} s" for name, seconds in kinds.items())
    return [
        f"One nbclient execution takes {total:.2f} s: kernel start and shutdown "
        f"{total - sum(kinds.values()):.2f} s (start alone {kernel_start:.2f} s), "
        f"{parts}. The slowest cell is {slowest[0]} ({slowest[1]:.2f} s)."
    ]


def _time_nbgrader_startup(repeats):
    """Time the imports that every nbgrader command pays before it grades."""
    python = [sys.executable, "-c"]
    cases = [
        Case("python", lambda: subprocess.run(python + ["pass"], check=True)),
        Case(
            "jsonschema",
            lambda: subprocess.run(python + ["import jsonschema"], check=True),
        ),
        Case(
            "nbgrader",
            lambda: subprocess.run(
                python + ["import nbgrader.apps.autogradeapp"], check=True
            ),
        ),
    ]
    medians = {
        name: median(values)
        for name, values in time_interleaved(cases, repeats, warmup=0).items()
    }
    finding = (
        "Every nbgrader command first imports nbgrader: "
        f"{medians['nbgrader'] - medians['python']:.2f} s beyond Python's own start, "
        f"of which jsonschema takes {medians['jsonschema'] - medians['python']:.2f} s"
    )
    if importlib.util.find_spec("rfc3987_syntax") is not None:
        # Seen with cProfile: jsonschema's optional URI checker builds its parsers.
        finding += " (rfc3987_syntax, which it finds installed, compiles lark grammars)"
    return [finding + "."]


def _fit_line(sizes, seconds):
    """Return the intercept and slope of a least-squares line through the points."""
    slope, intercept = np.polyfit(sizes, seconds, 1)
    return float(intercept), float(slope)


def _summarize(part, samples, sizes, sandboxed):
    medians = {name: median(values) for name, values in samples.items()}
    single = medians[SINGLE]
    single_floor = medians[SINGLE_FLOOR]
    part.rows.append(Row(SINGLE, single, SINGLE_FLOOR, single / single_floor))
    if SINGLE_SANDBOXED in medians:
        part.rows.append(
            Row(
                SINGLE_SANDBOXED,
                medians[SINGLE_SANDBOXED],
                SINGLE,
                medians[SINGLE_SANDBOXED] / single,
            )
        )
    part.rows.append(Row(SINGLE_FLOOR, single_floor, note="kernel start included"))

    for size in sizes:
        serial = medians[serial_name(size)] / size
        floor = medians[floor_name(size)] / size
        parallel = medians[parallel_name(size)] / size
        whole = "whole class {:.1f} s"
        part.rows.append(
            Row(
                serial_name(size),
                serial,
                floor_name(size),
                serial / floor,
                whole.format(medians[serial_name(size)]),
            )
        )
        part.rows.append(
            Row(
                parallel_name(size),
                parallel,
                serial_name(size),
                parallel / serial,
                whole.format(medians[parallel_name(size)]) + ", 1 BLAS thread each",
            )
        )
        if size in sandboxed:
            sandboxed_seconds = medians[sandbox_name(size)] / size
            part.rows.append(
                Row(
                    sandbox_name(size),
                    sandboxed_seconds,
                    serial_name(size),
                    sandboxed_seconds / serial,
                    whole.format(medians[sandbox_name(size)]),
                )
            )
        part.rows.append(Row(floor_name(size), floor, note="kernels one after another"))

    largest = max(sizes, default=1)
    graded = medians[serial_name(largest)] if sizes else single
    executed = medians[floor_name(largest)] if sizes else single_floor
    part.targets.append(
        Target(
            f"autograde per submission vs nbclient, class of {largest}",
            graded / executed,
            1.5,
            at_least=False,
        )
    )

    all_sizes = [1] + sizes
    classes = {
        "autograde": (
            all_sizes,
            [single] + [medians[serial_name(size)] for size in sizes],
        ),
        "floor: nbclient": (
            all_sizes,
            [single_floor] + [medians[floor_name(size)] for size in sizes],
        ),
    }
    if sizes:
        classes[f"autograde, {WORKERS} at once"] = (
            sizes,
            [medians[parallel_name(size)] for size in sizes],
        )
    if sandboxed:
        classes["autograde, sandboxed"] = (
            all_sizes,
            [medians[SINGLE_SANDBOXED]]
            + [medians[sandbox_name(size)] for size in sizes],
        )
    part.series = {"classes": classes}
    if not sizes:
        return

    lines = {
        name: _fit_line(points, values)
        for name, (points, values) in classes.items()
        if len(points) >= 2
    }
    part.targets.append(
        Target(
            "autograde per additional submission vs nbclient (slope)",
            lines["autograde"][1] / lines["floor: nbclient"][1],
            1.5,
            at_least=False,
        )
    )
    if "autograde, sandboxed" in lines:
        # The project's nbgrader_config.py grades in the sandbox by default.
        part.targets.append(
            Target(
                "sandboxed autograde per additional submission vs nbclient (slope)",
                lines["autograde, sandboxed"][1] / lines["floor: nbclient"][1],
                1.5,
                at_least=False,
            )
        )
    part.findings.append(
        "Least-squares lines through the class sizes, seconds = fixed + per "
        "submission x students: "
        + "; ".join(
            f"{name} {intercept:.2f} s + {slope:.2f} s"
            for name, (intercept, slope) in lines.items()
        )
        + "."
    )
