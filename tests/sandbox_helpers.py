"""A tiny nbgrader course for the sandbox tests, built in a temporary folder.

The course has one assignment, ``ps1``, with one solution cell (``add``),
one test cell with a visible and a hidden test, and one test cell that
reads the real MNIST test split through ``mymodules``. Markers in the
solution and the hidden test show whether either leaked into a student's
output or feedback.
"""

import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import nbformat
import pytest

from grading.sandbox import sandbox_problem

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENT = "ps1"

SOLUTION_MARKER = "SOLUTION-MARKER-7f3a91"
HIDDEN_MARKER = "HIDDEN-MARKER-2c9e04"

SETUP_SOURCE = """\
import sys
from pathlib import Path

here = Path.cwd().resolve()
MYMODULES = next(
    folder / "mymodules"
    for folder in (here, *here.parents)
    if (folder / "mymodules" / "softmax.py").is_file()
)
sys.path.append(str(MYMODULES))
print("mymodules:", MYMODULES)"""

SOLUTION_SOURCE = f"""\
def add(a, b):
    ### BEGIN SOLUTION
    # {SOLUTION_MARKER}
    return a + b
    ### END SOLUTION"""

TEST_ADD_SOURCE = f"""\
assert add(1, 2) == 3, "add(1, 2) は 3 になるはずです。"
### BEGIN HIDDEN TESTS
# {HIDDEN_MARKER}
assert add(2, 2) == 4, "add(2, 2) が 4 になりません。"
### END HIDDEN TESTS"""

TEST_DATA_SOURCE = """\
from mnist import load_mnist_split

(x_test, t_test) = load_mnist_split("test")
assert x_test.shape == (10000, 784), x_test.shape
print("test labels:", t_test[:10])"""


def _cell(kind, source, grade_id, *, solution=False, points=None):
    make = nbformat.v4.new_code_cell
    cell = make(source) if kind == "code" else nbformat.v4.new_markdown_cell(source)
    cell.id = grade_id.replace("_", "-")
    cell.metadata["nbgrader"] = {
        "grade": points is not None,
        "grade_id": grade_id,
        "locked": points is not None,
        "schema_version": 3,
        "solution": solution,
        "task": False,
    }
    if points is not None:
        cell.metadata["nbgrader"]["points"] = points
    return cell


def source_notebook():
    """Return the instructor's version of ``ps1.ipynb``."""
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {
        "display_name": "Python 3",
        "language": "python",
        "name": "python3",
    }
    setup = nbformat.v4.new_code_cell(SETUP_SOURCE)
    setup.id = "setup"
    notebook.cells = [
        setup,
        _cell("code", SOLUTION_SOURCE, "add", solution=True),
        _cell("code", TEST_ADD_SOURCE, "test_add", points=1),
        _cell("code", TEST_DATA_SOURCE, "test_data", points=1),
    ]
    return notebook


CONFIG_TEMPLATE = """\
from grading.sandbox import autograde_preprocessors
from grading.sandbox_feedback import feedback_preprocessors

c = get_config()  # noqa: F821
c.CourseDirectory.root = {root!r}
c.Execute.timeout = {timeout}
c.GenerateFeedback.preprocessors = feedback_preprocessors()
"""

SANDBOX_CONFIG = """\
c.Autograde.autograde_preprocessors = autograde_preprocessors()
c.SandboxedKernelManager.memory_limit = {memory_limit}
c.SandboxedKernelManager.cpu_time_limit = {cpu_time_limit}
c.SandboxedKernelManager.task_limit = {task_limit}
c.SandboxedKernelManager.file_size_limit = {file_size_limit}
c.SandboxedKernelManager.scratch_size = {scratch_size}
c.SandboxedKernelManager.sandbox_uid = {sandbox_uid}
c.SandboxedExecute.max_output_bytes = 1024 * 1024
"""


class Course:
    """An nbgrader course folder with ``ps1`` released, run by real nbgrader.

    Parameters
    ----------
    root : pathlib.Path
        An empty folder for the course.
    data_dir : pathlib.Path
        The real data folder, given to kernels as ``COURSE_DATA_DIR``.
    sandbox : dict or None
        Values for ``SANDBOX_CONFIG``; None grades without a sandbox.
    timeout : int
        nbgrader's per-cell timeout, in seconds.
    """

    def __init__(self, root, data_dir, sandbox=None, timeout=30):
        self.root = Path(root)
        self.data_dir = Path(data_dir)
        self.root.mkdir(parents=True, exist_ok=True)
        config = CONFIG_TEMPLATE.format(root=str(self.root), timeout=timeout)
        if sandbox is not None:
            config += SANDBOX_CONFIG.format(**sandbox)
        (self.root / "nbgrader_config.py").write_text(config, encoding="utf-8")

        modules = self.root / "mymodules"
        modules.mkdir()
        for module in (PROJECT_ROOT / "mymodules").glob("*.py"):
            shutil.copy2(module, modules / module.name)

        source = self.root / "source" / ASSIGNMENT
        source.mkdir(parents=True)
        nbformat.write(source_notebook(), source / f"{ASSIGNMENT}.ipynb")
        self.nbgrader("generate_assignment", ASSIGNMENT)

    def nbgrader(self, *arguments, check=True, extra_env=None):
        """Run one nbgrader command in the course folder; return the result."""
        env = dict(os.environ)
        env.update(extra_env or {})
        bin_dir = os.path.dirname(sys.executable)
        env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
        env["PYTHONPATH"] = str(PROJECT_ROOT)
        env["COURSE_DATA_DIR"] = str(self.data_dir)
        completed = subprocess.run(
            [sys.executable, "-m", "nbgrader", *arguments],
            cwd=self.root,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if check and completed.returncode != 0:
            raise AssertionError(
                f"nbgrader {' '.join(arguments)} failed with exit status "
                f"{completed.returncode}:\n{completed.stderr[-4000:]}"
            )
        return completed

    def submit(self, student, solution_source):
        """Write ``student``'s submission with ``solution_source`` as the solution."""
        released = self.root / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
        notebook = nbformat.read(released, as_version=4)
        for cell in notebook.cells:
            if cell.metadata.get("nbgrader", {}).get("solution"):
                cell.source = solution_source
        folder = self.root / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True)
        nbformat.write(notebook, folder / f"{ASSIGNMENT}.ipynb")

    def autograde(self, student=None, **options):
        """Autograde every submission, or only ``student``'s.

        ``options`` go to :meth:`nbgrader` (``check``, ``extra_env``).
        """
        arguments = ["autograde", ASSIGNMENT, "--create"]
        if student is not None:
            arguments.append(f"--student={student}")
        return self.nbgrader(*arguments, **options)

    def graded_notebook(self, student):
        """Return ``student``'s autograded notebook."""
        path = self.root / "autograded" / student / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
        return nbformat.read(path, as_version=4)

    def feedback_html(self, student):
        """Return the text of ``student``'s feedback page."""
        path = self.root / "feedback" / student / ASSIGNMENT / f"{ASSIGNMENT}.html"
        return path.read_text(encoding="utf-8")

    def scores(self, student):
        """Return ``{grade_id: auto_score}`` of ``student`` from the gradebook."""
        query = """
            SELECT base_cell.name, grade.auto_score
            FROM grade
            JOIN base_cell ON grade.cell_id = base_cell.id
            JOIN submitted_notebook ON grade.notebook_id = submitted_notebook.id
            JOIN submitted_assignment
                ON submitted_notebook.assignment_id = submitted_assignment.id
            WHERE submitted_assignment.student_id = ?
        """
        with sqlite3.connect(self.root / "gradebook.db") as database:
            return dict(database.execute(query, (student,)).fetchall())

    def grade_rows(self, exclude_student):
        """Return every grade and comment row of students but one, in order."""
        rows = []
        with sqlite3.connect(self.root / "gradebook.db") as database:
            for table in ("grade", "comment"):
                query = f"""
                    SELECT {table}.* FROM {table}
                    JOIN submitted_notebook
                        ON {table}.notebook_id = submitted_notebook.id
                    JOIN submitted_assignment
                        ON submitted_notebook.assignment_id = submitted_assignment.id
                    WHERE submitted_assignment.student_id != ?
                    ORDER BY {table}.id
                """
                rows += database.execute(query, (exclude_student,)).fetchall()
        return rows


def cell_outputs_text(notebook):
    """Return every output of every cell of ``notebook`` as one string."""
    outputs = [cell.get("outputs", []) for cell in notebook.cells]
    return json.dumps(outputs, ensure_ascii=False)


def outputs_of(notebook, cell_id):
    """Return the outputs of the cell whose nbgrader ``grade_id`` is given."""
    for cell in notebook.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == cell_id:
            return cell.outputs
    raise KeyError(f"no cell with grade_id {cell_id!r}")


class ConnectionCounter:
    """A TCP server on 127.0.0.1 that counts the connections it accepts."""

    def __init__(self):
        self.accepted = 0
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.2)
        self.port = self._server.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        while not self._stop.is_set():
            try:
                connection, _ = self._server.accept()
            except TimeoutError:
                continue
            self.accepted += 1
            connection.close()

    def close(self):
        """Stop accepting and close the listening socket."""
        self._stop.set()
        self._thread.join()
        self._server.close()


def processes_of_uid(uid):
    """Return the ids of running processes whose real uid is ``uid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("Uid:") and int(line.split()[1]) == uid:
                found.append(int(entry.name))
    return found


def require_sandbox():
    """Skip the calling test where no sandbox can be created, or fail in CI."""
    problem = sandbox_problem()
    if problem is None:
        return
    message = f"no sandbox can be created here: {problem}"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)
