"""Hostile and honest submissions graded by real nbgrader in the sandbox.

One class is graded once (module fixture) with every hostile submission
below, each next to honest ones; each test checks one containment. The
sandbox's limits are lowered for these tests so that the bombs stay small
on a shared machine: 2 GiB of address space, 10 s of CPU time, 64 tasks,
16 MiB files, 64 MiB writable folders and 1 MiB of output per notebook.
"""

import hashlib
import os
import secrets
import sys
import uuid
from pathlib import Path

import pytest
from sandbox_helpers import (
    ASSIGNMENT,
    HIDDEN_MARKER,
    SOLUTION_MARKER,
    ConnectionCounter,
    Course,
    cell_outputs_text,
    outputs_of,
    processes_of_uid,
    require_sandbox,
)

from grading import sandbox, sandbox_command

MIB = 1024 * 1024
TEST_LIMITS = {
    "memory_limit": 2048 * MIB,
    "cpu_time_limit": 10,
    "task_limit": 64,
    "file_size_limit": 16 * MIB,
    "scratch_size": 64 * MIB,
}

PEER_MARKER = "PEER-MARKER-5d1b77"

CORRECT = """\
def add(a, b):
    return a + b
"""

HONEST = {
    "honest_right": f"# {PEER_MARKER}\n" + CORRECT,
    # Passes the visible test but not the hidden one.
    "honest_wrong": """\
def add(a, b):
    return 3
""",
}

GRADEBOOK_WRITER = (
    CORRECT
    + """
import sqlite3
from pathlib import Path

course = Path.cwd().parents[2]
try:
    with sqlite3.connect(course / "gradebook.db") as database:
        database.execute("UPDATE grade SET manual_score = 100")
    print("gradebook: updated")
except sqlite3.Error as error:
    print("gradebook:", error)

for target in [
    course / "source" / "ps1" / "ps1.ipynb",
    course / "release" / "ps1" / "ps1.ipynb",
    course / "mymodules" / "softmax.py",
    course / "submitted" / "honest_right" / "ps1" / "ps1.ipynb",
    course / "autograded" / "honest_right" / "ps1" / "ps1.ipynb",
    course / "nbgrader_config.py",
    Path({home_file!r}),
]:
    try:
        with open(target, "a") as stream:
            stream.write("# changed by a student")
        print("written:", target)
    except OSError as error:
        print("not written:", target, type(error).__name__)
"""
)

SOURCE_READER = (
    CORRECT
    + """
from pathlib import Path

course = Path.cwd().parents[2]
found = [*course.glob("source/**/*.ipynb"), *Path("../../../source").glob("**/*")]
for path in found:
    if path.is_file():
        print(path.read_text())
try:
    print(open(course / "gradebook.db", "rb").read())
except OSError as error:
    print("gradebook:", type(error).__name__)
print("source files found:", len(found))
"""
)

PEER_READER = (
    CORRECT
    + """
from pathlib import Path

course = Path.cwd().parents[2]
read = 0
for folder in ("submitted", "autograded"):
    for path in (course / folder).glob("*/ps1/*.ipynb"):
        if path.parent != Path.cwd():
            print(path.read_text())
            read += 1
print("peer notebooks read:", read)
"""
)

NETWORK_CLIENT = (
    CORRECT
    + """
import socket

try:
    socket.create_connection(("127.0.0.1", {port}), timeout=5).close()
    print("connected")
except OSError as error:
    print("not connected:", type(error).__name__)
"""
)

MEMORY_BOMB = (
    CORRECT
    + """
def allocate_until_failure():
    blocks = []
    try:
        while True:
            blocks.append(bytearray(64 * 1024 * 1024))
    except MemoryError:
        return len(blocks) * 64


print("MiB allocated before MemoryError:", allocate_until_failure())
"""
)

FORK_BOMB = (
    CORRECT
    + """
import os

while True:
    os.fork()
"""
)

OUTPUT_FLOOD = (
    CORRECT
    + """
for line in range(6400):
    print("x" * 10_000)
"""
)

LIMIT_RAISER = (
    CORRECT
    + """
import resource

for name in ("RLIMIT_AS", "RLIMIT_CPU", "RLIMIT_NPROC", "RLIMIT_FSIZE"):
    kind = getattr(resource, name)
    print(name, "is", resource.getrlimit(kind)[1])
    try:
        resource.setrlimit(kind, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
        print(name, "raised")
    except (ValueError, OSError) as error:
        print(name, "not raised:", type(error).__name__)
"""
)

# Like a kernel killed at its CPU time limit, but without waiting for it.
KERNEL_KILLER = (
    CORRECT
    + """
import os

os._exit(1)
"""
)

HUGE_FILE = (
    CORRECT
    + """
import errno

for name in ("huge.bin", "/tmp/huge.bin"):
    try:
        with open(name, "wb") as stream:
            while True:
                stream.write(bytes(1024 * 1024))
    except OSError as error:
        print(name, errno.errorcode[error.errno])

try:
    for number in range(10_000):
        with open(f"part{number}.bin", "wb") as stream:
            stream.write(bytes(15 * 1024 * 1024))
except OSError as error:
    print("parts:", errno.errorcode[error.errno])
"""
)


def tree_digest(root, skip):
    """Return ``{path: sha256}`` of every file below ``root`` but ``skip``."""
    digests = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and not any(path.is_relative_to(s) for s in skip):
            digests[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digests


@pytest.fixture(scope="module")
def graded(tmp_path_factory, real_data_dir):
    """The sandboxed class, graded: honest and hostile submissions."""
    require_sandbox()
    uid = sandbox_command.SANDBOX_UID_BASE + secrets.randbelow(
        sandbox_command.SANDBOX_UID_COUNT
    )
    root = tmp_path_factory.mktemp("sandboxed") / "course"
    # A 15 s cell timeout bounds the fork bomb's hung cell; honest cells
    # take about 1 s.
    course = Course(
        root, real_data_dir, {**TEST_LIMITS, "sandbox_uid": uid}, timeout=15
    )
    server = ConnectionCounter()
    home_file = Path.home() / f"sandbox-escape-{uuid.uuid4().hex}.txt"

    submissions = {
        **HONEST,
        "source_reader": SOURCE_READER,
        "peer_reader": PEER_READER,
        "network_client": NETWORK_CLIENT.format(port=server.port),
        "memory_bomb": MEMORY_BOMB,
        "fork_bomb": FORK_BOMB,
        "huge_file": HUGE_FILE,
        "limit_raiser": LIMIT_RAISER,
        "kernel_killer": KERNEL_KILLER,
        "output_flood": OUTPUT_FLOOD,
    }
    for student, solution in submissions.items():
        course.submit(student, solution)
    # The kernel killer's kernel exits, so nbgrader ends with an error status.
    # Kernels' runtime folders go to a folder of this test's own, so that
    # leftovers can be counted.
    temp_dir = root.parent / "tmp"
    temp_dir.mkdir()
    batch = course.autograde(check=False, extra_env={"TMPDIR": str(temp_dir)})

    # The gradebook writer is graded on its own, after everyone else, so
    # that the other students' grades can be compared before and after.
    grades_before = course.grade_rows(exclude_student="gradebook_writer")
    files_before = tree_digest(root, skip=[root / "gradebook.db"])
    course.submit("gradebook_writer", GRADEBOOK_WRITER.format(home_file=str(home_file)))
    writer_run = course.autograde(
        "gradebook_writer", extra_env={"TMPDIR": str(temp_dir)}
    )
    course.nbgrader("generate_feedback", ASSIGNMENT)
    server.close()

    yield {
        "course": course,
        "batch": batch,
        "writer_run": writer_run,
        "grades_before": grades_before,
        "grades_after": course.grade_rows(exclude_student="gradebook_writer"),
        "files_before": files_before,
        "files_after": tree_digest(
            root,
            skip=[
                root / "gradebook.db",
                root / "submitted" / "gradebook_writer",
                root / "autograded" / "gradebook_writer",
                root / "feedback",
            ],
        ),
        "home_file": home_file,
        "server": server,
        "uid": uid,
        "temp_dir": temp_dir,
    }
    home_file.unlink(missing_ok=True)


@pytest.fixture(scope="module")
def unsandboxed(tmp_path_factory, real_data_dir):
    """The honest submissions alone, graded by plain nbgrader."""
    root = tmp_path_factory.mktemp("unsandboxed") / "course"
    course = Course(root, real_data_dir)
    for student, solution in HONEST.items():
        course.submit(student, solution)
    course.autograde()
    return course


def graded_outputs(course, student):
    """Return the outputs of ``student``'s graded notebook, paths replaced."""
    text = cell_outputs_text(course.graded_notebook(student))
    return text.replace(str(course.root), "<course>")


@pytest.mark.slow
def test_gradebook_writer_changes_no_grade(graded):
    assert graded["grades_after"] == graded["grades_before"]


@pytest.mark.slow
def test_gradebook_writer_gets_no_points(graded):
    scores = graded["course"].scores("gradebook_writer")
    assert scores == {"test_add": 1.0, "test_data": 1.0}


@pytest.mark.slow
def test_gradebook_writer_changes_no_file(graded):
    assert graded["files_after"] == graded["files_before"]


@pytest.mark.slow
def test_gradebook_writer_misses_home(graded):
    assert not graded["home_file"].exists()


@pytest.mark.slow
def test_gradebook_writer_attempts_ran(graded):
    outputs = graded_outputs(graded["course"], "gradebook_writer")
    assert outputs.count("not written:") == 7


@pytest.mark.slow
def test_source_reader_finds_nothing(graded):
    outputs = graded_outputs(graded["course"], "source_reader")
    assert "source files found: 0" in outputs


@pytest.mark.slow
def test_source_reader_output_has_no_solution(graded):
    outputs = graded_outputs(graded["course"], "source_reader")
    assert SOLUTION_MARKER not in outputs


@pytest.mark.slow
def test_source_reader_output_has_no_hidden_test(graded):
    outputs = graded_outputs(graded["course"], "source_reader")
    assert HIDDEN_MARKER not in outputs


@pytest.mark.slow
def test_source_reader_feedback_has_no_solution(graded):
    html = graded["course"].feedback_html("source_reader")
    assert SOLUTION_MARKER not in html


@pytest.mark.slow
def test_source_reader_feedback_has_no_hidden_test(graded):
    html = graded["course"].feedback_html("source_reader")
    assert HIDDEN_MARKER not in html


@pytest.mark.slow
def test_peer_reader_reads_no_peer(graded):
    outputs = graded_outputs(graded["course"], "peer_reader")
    assert "peer notebooks read: 0" in outputs


@pytest.mark.slow
def test_peer_reader_output_has_no_peer(graded):
    outputs = graded_outputs(graded["course"], "peer_reader")
    assert PEER_MARKER not in outputs


@pytest.mark.slow
def test_network_client_not_connected(graded):
    outputs = graded_outputs(graded["course"], "network_client")
    assert "not connected: " in outputs


@pytest.mark.slow
def test_network_server_gets_no_connection(graded):
    assert graded["server"].accepted == 0


def allocated_mib(course):
    """Return what the memory bomb allocated before MemoryError, in MiB."""
    outputs = outputs_of(course.graded_notebook("memory_bomb"), "add")
    text = "".join(output.get("text", "") for output in outputs)
    return int(text.split("MiB allocated before MemoryError:")[1])


@pytest.mark.slow
def test_memory_bomb_stops_at_limit(graded):
    assert allocated_mib(graded["course"]) * MIB < TEST_LIMITS["memory_limit"]


@pytest.mark.slow
def test_memory_bomb_allocates_something(graded):
    assert allocated_mib(graded["course"]) > 0


@pytest.mark.slow
def test_memory_bomb_still_graded(graded):
    scores = graded["course"].scores("memory_bomb")
    assert scores == {"test_add": 1.0, "test_data": 1.0}


@pytest.mark.slow
@pytest.mark.parametrize(
    "name", ["RLIMIT_AS", "RLIMIT_CPU", "RLIMIT_NPROC", "RLIMIT_FSIZE"]
)
def test_limit_raiser_cannot_raise(graded, name):
    outputs = graded_outputs(graded["course"], "limit_raiser")
    assert f"{name} not raised: ValueError" in outputs


@pytest.mark.slow
def test_limit_raiser_sees_cpu_limit(graded):
    outputs = graded_outputs(graded["course"], "limit_raiser")
    assert f"RLIMIT_CPU is {TEST_LIMITS['cpu_time_limit']}" in outputs


@pytest.mark.slow
def test_kernel_killer_reported_as_error(graded):
    message = "error processing assignment 'ps1' for student 'kernel_killer'"
    assert message in graded["batch"].stderr


@pytest.mark.slow
def test_kernel_killer_not_graded(graded):
    folder = graded["course"].root / "autograded" / "kernel_killer" / ASSIGNMENT
    assert not folder.exists()


@pytest.mark.slow
def test_students_after_killer_graded(graded):
    students = ["limit_raiser", "memory_bomb", "network_client", "output_flood"]
    graded_students = [s for s in students if graded["course"].scores(s)]
    assert graded_students == students


@pytest.mark.slow
def test_fork_bomb_stops_at_task_limit(graded):
    outputs = outputs_of(graded["course"].graded_notebook("fork_bomb"), "add")
    assert "BlockingIOError" in [output.get("ename") for output in outputs]


@pytest.mark.slow
def test_fork_bomb_still_graded(graded):
    scores = graded["course"].scores("fork_bomb")
    assert scores["test_add"] == 1.0


@pytest.mark.slow
@pytest.mark.skipif(os.geteuid() != 0, reason="kernels keep the grader's uid")
def test_fork_bomb_leaves_no_process(graded):
    assert processes_of_uid(graded["uid"]) == []


@pytest.mark.slow
def test_output_flood_cut(graded):
    path = graded["course"].root / "autograded" / "output_flood" / ASSIGNMENT
    notebook_bytes = (path / f"{ASSIGNMENT}.ipynb").stat().st_size
    assert notebook_bytes < 2 * MIB


@pytest.mark.slow
def test_output_flood_noted(graded):
    outputs = graded_outputs(graded["course"], "output_flood")
    assert "出力が多すぎるため" in outputs


@pytest.mark.slow
def test_output_flood_still_graded(graded):
    scores = graded["course"].scores("output_flood")
    assert scores == {"test_add": 1.0, "test_data": 1.0}


@pytest.mark.slow
def test_runtime_folders_removed(graded):
    assert list(graded["temp_dir"].iterdir()) == []


@pytest.mark.slow
def test_huge_file_stops_at_file_limit(graded):
    outputs = graded_outputs(graded["course"], "huge_file")
    assert "huge.bin EFBIG" in outputs


@pytest.mark.slow
def test_huge_file_stops_at_scratch_size(graded):
    outputs = graded_outputs(graded["course"], "huge_file")
    assert "parts: ENOSPC" in outputs


@pytest.mark.slow
def test_huge_file_not_on_host(graded):
    folder = graded["course"].root / "autograded" / "huge_file" / ASSIGNMENT
    assert sorted(path.name for path in folder.iterdir()) == [f"{ASSIGNMENT}.ipynb"]


@pytest.mark.slow
@pytest.mark.parametrize("student", sorted(HONEST))
def test_honest_scores_unchanged(graded, unsandboxed, student):
    sandboxed_scores = graded["course"].scores(student)
    assert sandboxed_scores == unsandboxed.scores(student)


@pytest.mark.slow
@pytest.mark.parametrize("student", sorted(HONEST))
def test_honest_outputs_unchanged(graded, unsandboxed, student):
    sandboxed_outputs = graded_outputs(graded["course"], student)
    assert sandboxed_outputs == graded_outputs(unsandboxed, student)


@pytest.mark.slow
def test_honest_scores_expected(graded):
    scores = {student: graded["course"].scores(student) for student in HONEST}
    assert scores == {
        "honest_right": {"test_add": 1.0, "test_data": 1.0},
        "honest_wrong": {"test_add": 0.0, "test_data": 1.0},
    }


@pytest.mark.slow
def test_feedback_shows_hidden_message(graded):
    html = graded["course"].feedback_html("honest_wrong")
    assert "add(2, 2) が 4 になりません。" in html


@pytest.mark.slow
def test_feedback_hides_hidden_test(graded):
    html = graded["course"].feedback_html("honest_wrong")
    assert HIDDEN_MARKER not in html


@pytest.mark.slow
def test_feedback_hides_hidden_assert(graded):
    html = graded["course"].feedback_html("honest_wrong")
    assert "assert add(2, 2)" not in html


@pytest.mark.slow
def test_instructor_keeps_hidden_test(graded):
    notebook = graded["course"].graded_notebook("honest_wrong")
    assert HIDDEN_MARKER in notebook.cells[2].source


@pytest.fixture(scope="module")
def without_bwrap(tmp_path_factory, real_data_dir):
    """A course whose sandbox program does not exist, graded twice."""
    root = tmp_path_factory.mktemp("without-bwrap") / "course"
    course = Course(root, real_data_dir, {**TEST_LIMITS, "sandbox_uid": None})
    config = course.root / "nbgrader_config.py"
    config.write_text(
        config.read_text() + 'c.SandboxedKernelManager.bwrap = "/nonexistent/bwrap"\n'
    )
    course.submit("honest_right", CORRECT)
    refused = course.autograde(check=False)
    graded_folder = course.root / "autograded" / "honest_right" / ASSIGNMENT
    refused_folder_exists = graded_folder.exists()
    allowed = course.autograde(extra_env={sandbox.ALLOW_UNSANDBOXED_ENV: "1"})
    return {
        "course": course,
        "refused": refused,
        "refused_folder_exists": refused_folder_exists,
        "allowed": allowed,
    }


@pytest.mark.slow
def test_missing_bwrap_refuses_grading(without_bwrap):
    assert "cannot grade in a sandbox" in without_bwrap["refused"].stderr


@pytest.mark.slow
def test_missing_bwrap_grades_nothing(without_bwrap):
    assert not without_bwrap["refused_folder_exists"]


@pytest.mark.slow
def test_allowed_unsandboxed_warns(without_bwrap):
    assert "GRADING WITHOUT A SANDBOX" in without_bwrap["allowed"].stderr


@pytest.mark.slow
def test_allowed_unsandboxed_grades(without_bwrap):
    scores = without_bwrap["course"].scores("honest_right")
    assert scores == {"test_add": 1.0, "test_data": 1.0}


def test_autograde_preprocessors_sandboxed():
    preprocessors = sandbox.autograde_preprocessors()
    assert sandbox.SandboxedExecute in preprocessors


def test_sandbox_python_is_this_python():
    folders = sandbox_command.python_installation(sys.executable)
    assert sys.prefix in folders


def command_for(cwd, mounts=()):
    """Return the bwrap command for a kernel graded in ``cwd``."""
    return sandbox_command.build_command(
        ["python3", "-m", "ipykernel_launcher"],
        cwd=cwd,
        runtime_dir=cwd.parent / "runtime",
        mounts=list(mounts),
        env={"PATH": "/usr/bin"},
        limits=sandbox_command.SandboxLimits(),
        uid=None,
    )


def option_arguments(command, option):
    """Return the arguments that follow each ``option`` in ``command``."""
    found = []
    for index, word in enumerate(command):
        if word == option:
            found.append(tuple(command[index + 1 : index + 3]))
    return found


def test_command_recreates_symlinks(tmp_path):
    cwd = tmp_path / "autograded" / "student" / ASSIGNMENT
    cwd.mkdir(parents=True)
    (cwd / "grades.db").symlink_to("../../../gradebook.db")
    symlinks = option_arguments(command_for(cwd), "--symlink")
    assert ("../../../gradebook.db", str(cwd / "grades.db")) in symlinks


def test_command_binds_no_symlink(tmp_path):
    cwd = tmp_path / "autograded" / "student" / ASSIGNMENT
    cwd.mkdir(parents=True)
    (cwd / "grades.db").symlink_to("../../../gradebook.db")
    sources = [source for source, _ in option_arguments(command_for(cwd), "--ro-bind")]
    assert str(cwd / "grades.db") not in sources


def test_command_binds_submitted_files(tmp_path):
    cwd = tmp_path / "autograded" / "student" / ASSIGNMENT
    cwd.mkdir(parents=True)
    (cwd / "data.csv").write_text("1,2\n")
    binds = option_arguments(command_for(cwd), "--ro-bind")
    assert (str(cwd / "data.csv"), str(cwd / "data.csv")) in binds


def test_mounts_skip_course_root(tmp_path):
    course = tmp_path / "course"
    cwd = course / "autograded" / "student" / ASSIGNMENT
    cwd.mkdir(parents=True)
    (course / "mymodules").mkdir()
    (course / "mymodules" / "softmax.py").write_text("")
    mounts = sandbox_command.read_only_mounts([sys.executable], cwd, {}, [""])
    targets = [mount.target for mount in mounts]
    assert course.resolve() not in targets


def test_mounts_include_mymodules(tmp_path):
    course = tmp_path / "course"
    cwd = course / "autograded" / "student" / ASSIGNMENT
    cwd.mkdir(parents=True)
    (course / "mymodules").mkdir()
    (course / "mymodules" / "softmax.py").write_text("")
    mounts = sandbox_command.read_only_mounts([sys.executable], cwd.resolve(), {})
    targets = [mount.target for mount in mounts]
    assert course.resolve() / "mymodules" in targets


def test_data_dir_defaults_to_mymodules(tmp_path):
    course = tmp_path / "course"
    cwd = course / "autograded" / "student" / ASSIGNMENT
    cwd.mkdir(parents=True)
    (course / "mymodules" / "data" / "mnist").mkdir(parents=True)
    (course / "mymodules" / "softmax.py").write_text("")
    env = sandbox_command.with_course_data_dir({}, cwd.resolve())
    assert env["COURSE_DATA_DIR"] == str(course.resolve() / "mymodules" / "data")


def test_data_dir_keeps_setting(tmp_path):
    env = sandbox_command.with_course_data_dir({"COURSE_DATA_DIR": "/data"}, tmp_path)
    assert env == {"COURSE_DATA_DIR": "/data"}
