"""Run nbgrader's grading kernels inside a bubblewrap sandbox.

Without this module, a student's code runs with the rights of whoever runs
``nbgrader autograde``, in ``autograded/<student>/<assignment>/``, so it can
rewrite the gradebook or print ``source/`` into its own feedback. Here each
grading kernel starts inside ``bwrap`` (Debian package ``bubblewrap``):

- its own mount namespace, in which only the operating system, the kernel's
  Python installation, the ``mymodules`` folder above the grading folder and
  the data folder (``COURSE_DATA_DIR``) exist, all read-only. The grading
  folder is a size-limited scratch copy and ``/tmp`` is private, so
  ``source/``, the gradebook and other students' folders do not exist inside;
- its own network, PID, IPC and UTS namespaces. The network namespace has
  only a loopback interface that is down, so the kernel talks to nbgrader
  over Jupyter's IPC transport (Unix sockets in a folder of its own);
- resource limits (address space, CPU time, tasks, file size) and, when
  grading as root, an unprivileged user id without capabilities, because
  the process limit does not bind root.

Hook it into nbgrader in ``nbgrader_config.py``::

    from grading.sandbox import autograde_preprocessors
    c.Autograde.autograde_preprocessors = autograde_preprocessors()

Where no sandbox can be created, kernels do not start unless the instructor
sets ``COURSE_ALLOW_UNSANDBOXED=1`` (or the ``allow_unsandboxed`` option);
then every kernel start logs a warning that grading is not isolated.
"""

import functools
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import nbformat
from jupyter_client.manager import AsyncKernelManager
from nbclient.exceptions import DeadKernelError
from nbgrader.converters.autograde import Autograde
from nbgrader.preprocessors import Execute
from traitlets import Bool, Int, List, Unicode, default

ALLOW_UNSANDBOXED_ENV = "COURSE_ALLOW_UNSANDBOXED"

# When grading as root, each kernel runs as a random uid from this range. A
# uid of its own gives each sandbox its own process count, so a fork bomb
# in one kernel cannot starve kernels graded at the same time. The range is
# above the usual regular, system and subordinate (container) uids.
SANDBOX_UID_BASE = 1_900_000_000
SANDBOX_UID_COUNT = 1_000_000

# Host folders that make up the operating system inside the sandbox.
SYSTEM_PATHS = ("/usr", "/etc", "/bin", "/sbin", "/lib", "/lib32", "/lib64")

# Environment variables that the kernel inherits from nbgrader; every other
# one is dropped, so the instructor's tokens and paths stay outside.
# NBGRADER_EXECUTION tells notebooks that they are being autograded.
PASSED_ENV_NAMES = (
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TZ",
    "PYTHONHASHSEED",
    "MPLBACKEND",
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NBGRADER_EXECUTION",
    "COURSE_DATA_DIR",
)

# Private folders inside the sandbox's /tmp for what the kernel writes.
SANDBOX_HOME = "/tmp"
SANDBOX_ENV = {
    "HOME": SANDBOX_HOME,
    "IPYTHONDIR": "/tmp/.ipython",
    "MPLCONFIGDIR": "/tmp/.config/matplotlib",
    "XDG_CACHE_HOME": "/tmp/.cache",
    "XDG_CONFIG_HOME": "/tmp/.config",
}

# Student-facing messages when a kernel dies while grading.
KERNEL_DIED_MESSAGE = (
    "このセルの実行中にカーネルが停止しました。メモリー、CPU 時間、"
    "プロセス数などの上限を超えた可能性があります。"
)
NOT_RUN_MESSAGE = "カーネルが停止したため、このセルは実行されませんでした。"
OUTPUT_CUT_MESSAGE = "（出力が多すぎるため、ここから先の出力は省略しました。）\n"

# Characters kept of a stderr output that arrives after the output limit.
KEPT_STDERR_CHARS = 2000

MIB = 1024 * 1024
GIB = 1024 * MIB


class SandboxUnavailableError(RuntimeError):
    """No sandbox can be created and unsandboxed grading is not allowed."""


@dataclass(frozen=True)
class SandboxLimits:
    """Resource limits of one sandboxed kernel.

    Attributes
    ----------
    memory_bytes : int
        Address space of each process (RLIMIT_AS), in bytes. An allocation
        beyond it raises MemoryError in the student's code.
    cpu_seconds : int
        CPU time of each process (RLIMIT_CPU), in seconds; a process that
        uses it up is killed.
    max_tasks : int
        Processes and threads of the sandbox's user (RLIMIT_NPROC); a fork
        beyond it fails with BlockingIOError.
    max_file_bytes : int
        Size of any one file written (RLIMIT_FSIZE), in bytes; a write beyond
        it fails with "File too large".
    scratch_bytes : int
        Size of each writable folder (``/tmp`` and the grading folder), in
        bytes; a write beyond it fails with "No space left on device".
    """

    memory_bytes: int = 4 * GIB
    cpu_seconds: int = 600
    max_tasks: int = 128
    max_file_bytes: int = 64 * MIB
    scratch_bytes: int = 256 * MIB


@dataclass(frozen=True)
class Mount:
    """A host folder or file visible at ``target`` inside the sandbox."""

    source: Path
    target: Path


def grading_as_root():
    """Return True if this process runs as root, so kernels get another uid."""
    return os.geteuid() == 0


@functools.cache
def bwrap_options(bwrap="bwrap"):
    """Return the set of options that the program ``bwrap`` accepts."""
    completed = subprocess.run(
        [bwrap, "--help"], capture_output=True, text=True, check=False
    )
    return {word for word in completed.stdout.split() if word.startswith("--")}


@functools.cache
def python_installation(executable):
    """Return the folders of the Python installation that ``executable`` runs.

    Parameters
    ----------
    executable : str
        Path of a Python interpreter, as the kernel command names it.

    Returns
    -------
    tuple of str
        ``sys.prefix``, ``sys.base_prefix`` and the two exec prefixes, with
        duplicates removed: the folders that must exist inside the sandbox.
    """
    script = (
        "import json, sys; print(json.dumps([sys.prefix, sys.base_prefix, "
        "sys.exec_prefix, sys.base_exec_prefix]))"
    )
    try:
        completed = subprocess.run(
            [executable, "-c", script],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
    except (OSError, subprocess.SubprocessError) as error:
        raise SandboxUnavailableError(
            f"could not ask the kernel's interpreter {executable} for its "
            f"installation folders ({error}); the sandbox supports Python "
            "kernels whose command starts with the interpreter's path"
        ) from error
    return tuple(dict.fromkeys(json.loads(completed.stdout)))


def find_course_modules(cwd):
    """Return the ``mymodules`` folder that the notebooks' setup cell finds.

    The setup cell walks up from the working directory and takes the first
    ``mymodules`` that contains ``softmax.py``. The grading folder itself is
    skipped because its content is visible inside the sandbox anyway.

    Parameters
    ----------
    cwd : pathlib.Path
        Resolved grading folder, ``autograded/<student>/<assignment>``.

    Returns
    -------
    pathlib.Path or None
    """
    for folder in cwd.parents:
        candidate = folder / "mymodules"
        if (candidate / "softmax.py").is_file():
            return candidate
    return None


def read_only_mounts(kernel_cmd, cwd, env, extra_paths=()):
    """Return what the kernel may read: Python, ``mymodules``, data, extras.

    Parameters
    ----------
    kernel_cmd : list of str
        Kernel command; its first item must be a Python interpreter's path.
    cwd : pathlib.Path
        Resolved grading folder.
    env : dict
        Environment that nbgrader gives the kernel; ``COURSE_DATA_DIR`` is
        read from it.
    extra_paths : sequence of str
        More host folders or files to show read-only at the same path.

    Returns
    -------
    list of Mount
    """
    targets = list(python_installation(kernel_cmd[0]))
    modules = find_course_modules(cwd)
    if modules is not None:
        targets.append(str(modules))
    if env.get("COURSE_DATA_DIR"):
        targets.append(env["COURSE_DATA_DIR"])
    targets.extend(extra_paths)

    mounts = []
    for target in targets:
        # An empty path would mean the grader's working directory, which is
        # usually the course root.
        if not target:
            continue
        target = Path(os.path.abspath(target))
        if target.exists():
            mounts.append(Mount(target.resolve(), target))
    return mounts


def sandbox_environment(kernel_cmd, env):
    """Return the complete environment of the kernel inside the sandbox."""
    interpreter_bin = os.path.dirname(os.path.abspath(kernel_cmd[0]))
    inside = {"PATH": f"{interpreter_bin}:/usr/local/bin:/usr/bin:/bin"}
    inside.update(SANDBOX_ENV)
    for name in PASSED_ENV_NAMES:
        if name in env:
            inside[name] = env[name]
    return inside


class _MountPlan:
    """The bwrap options that build the sandbox's file system, in order."""

    def __init__(self):
        self.options = []
        self.created = {Path("/"), Path("/tmp"), Path("/proc"), Path("/dev")}
        self.mounted = []

    def make_parents(self, target):
        # bwrap copies the host's mode for parent folders that it creates,
        # so /root (0700) would hide a Python installed below it from the
        # kernel's unprivileged user.
        for parent in reversed(target.parents):
            if parent not in self.created and not self._inside_mount(parent):
                self.options += ["--perms", "0755", "--dir", str(parent)]
                self.created.add(parent)

    def _inside_mount(self, path):
        return any(path.is_relative_to(mount.target) for mount in self.mounted)

    def bind(self, mount, option="--ro-bind"):
        if self._shown_by_earlier_mount(mount):
            return
        self.make_parents(mount.target)
        self.options += [option, str(mount.source), str(mount.target)]
        self.mounted.append(mount)
        self.created.add(mount.target)

    def _shown_by_earlier_mount(self, mount):
        for earlier in self.mounted:
            if mount.target.is_relative_to(earlier.target):
                relative = mount.target.relative_to(earlier.target)
                if earlier.source / relative == mount.source:
                    return True
        return False

    def tmpfs(self, target, size_bytes):
        self.make_parents(target)
        self.options += ["--perms", "1777", "--size", str(size_bytes)]
        self.options += ["--tmpfs", str(target)]
        self.created.add(target)


def _system_options():
    options = []
    for name in SYSTEM_PATHS:
        path = Path(name)
        if path.is_symlink():
            options += ["--symlink", os.readlink(path), name]
        elif path.is_dir():
            options += ["--ro-bind", name, name]
    return options


def _grading_folder_options(plan, cwd, size_bytes):
    # The grading folder is a new, size-limited tmpfs that shows the
    # submitted files read-only, so writes never reach the host. A symlink
    # is recreated as a symlink: bwrap would follow it on the host, as root,
    # and show whatever it points to.
    plan.tmpfs(cwd, size_bytes)
    for entry in sorted(os.scandir(cwd), key=lambda entry: entry.name):
        target = cwd / entry.name
        if entry.is_symlink():
            plan.options += ["--symlink", os.readlink(entry.path), str(target)]
        elif entry.is_dir() or entry.is_file():
            plan.options += ["--ro-bind", entry.path, str(target)]


def _limit_command(limits):
    return [
        "prlimit",
        f"--as={limits.memory_bytes}",
        f"--cpu={limits.cpu_seconds}",
        f"--nproc={limits.max_tasks}",
        f"--fsize={limits.max_file_bytes}",
        "--core=0",
        "--",
    ]


def _drop_root_command(uid):
    # Run inside the sandbox, after bwrap (as root) has built the mounts.
    # no_new_privs keeps setuid programs in /usr from giving root back.
    return [
        "setpriv",
        f"--reuid={uid}",
        f"--regid={uid}",
        "--clear-groups",
        "--inh-caps=-all",
        "--bounding-set=-all",
        "--no-new-privs",
        "--",
    ]


def build_command(
    kernel_cmd, *, cwd, runtime_dir, mounts, env, limits, uid=None, bwrap="bwrap"
):
    """Return the command that runs ``kernel_cmd`` inside a new sandbox.

    Parameters
    ----------
    kernel_cmd : list of str
        The kernel command, as jupyter_client would run it.
    cwd : pathlib.Path
        Resolved grading folder; the kernel starts there.
    runtime_dir : pathlib.Path
        Folder with the connection file and the kernel's IPC sockets; it is
        shown writable at the same path.
    mounts : list of Mount
        Read-only folders and files (see :func:`read_only_mounts`).
    env : dict
        The complete environment inside (see :func:`sandbox_environment`).
    limits : SandboxLimits
        Resource limits of the kernel and everything it starts.
    uid : int or None
        When grading as root, the unprivileged uid and gid that the kernel
        runs as; None keeps the caller's uid (in a user namespace).
    bwrap : str
        The bubblewrap program.

    Returns
    -------
    list of str
    """
    command = [
        bwrap,
        "--unshare-ipc",
        "--unshare-pid",
        "--unshare-net",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--die-with-parent",
        "--new-session",
        "--clearenv",
    ]
    if uid is None:
        command.append("--unshare-user")
        if "--disable-userns" in bwrap_options(bwrap):
            command.append("--disable-userns")
    else:
        command += ["--cap-drop", "ALL"]
        for capability in ("CAP_SETUID", "CAP_SETGID", "CAP_SETPCAP"):
            command += ["--cap-add", capability]
    for name, value in env.items():
        command += ["--setenv", name, value]

    command += _system_options()
    command += ["--proc", "/proc", "--dev", "/dev"]
    plan = _MountPlan()
    plan.tmpfs(Path("/tmp"), limits.scratch_bytes)
    for mount in mounts:
        plan.bind(mount)
    plan.bind(Mount(runtime_dir, runtime_dir), option="--bind")
    _grading_folder_options(plan, cwd, limits.scratch_bytes)
    command += plan.options
    command += ["--chdir", str(cwd), "--remount-ro", "/", "--"]

    if uid is not None:
        command += _drop_root_command(uid)
    return command + _limit_command(limits) + list(kernel_cmd)


@functools.cache
def sandbox_problem(bwrap="bwrap"):
    """Return why no sandbox can be created here, or None if one can.

    The check starts one real sandbox, the same way kernels are started,
    and runs ``true`` in it; the result is cached for the process.

    Parameters
    ----------
    bwrap : str
        The bubblewrap program, a name on PATH or a path.

    Returns
    -------
    str or None
    """
    if not sys.platform.startswith("linux"):
        return f"bubblewrap needs Linux, and this is {sys.platform}"
    for program in (bwrap, "prlimit", "setpriv"):
        if shutil.which(program) is None:
            return (
                f"the program {program} was not found; install the "
                "Debian packages bubblewrap and util-linux"
            )
    with tempfile.TemporaryDirectory(prefix="nbgrader-sandbox-check-") as folder:
        folder = Path(folder).resolve()
        uid = SANDBOX_UID_BASE if grading_as_root() else None
        if uid is not None:
            os.chown(folder, uid, uid)
        command = build_command(
            ["true"],
            cwd=folder,
            runtime_dir=folder,
            mounts=[],
            env={"PATH": "/usr/bin:/bin"},
            limits=SandboxLimits(),
            uid=uid,
            bwrap=bwrap,
        )
        completed = subprocess.run(
            command, capture_output=True, text=True, check=False, timeout=60
        )
    if completed.returncode != 0:
        return (
            f"a test sandbox failed with exit status {completed.returncode}: "
            f"{completed.stderr.strip()} (user namespaces may be disabled)"
        )
    return None


def unsandboxed_allowed_by_env():
    """Return True if ``COURSE_ALLOW_UNSANDBOXED`` is set to 1, true or yes."""
    value = os.environ.get(ALLOW_UNSANDBOXED_ENV, "")
    return value.strip().lower() in {"1", "true", "yes"}


def check_sandbox(allow_unsandboxed, log, bwrap="bwrap"):
    """Return True if kernels can be sandboxed; raise or warn if not.

    Parameters
    ----------
    allow_unsandboxed : bool
        The instructor's explicit permission to grade without isolation.
    log : logging.Logger
        Where the warning about unsandboxed grading goes.
    bwrap : str
        The bubblewrap program, a name on PATH or a path.

    Returns
    -------
    bool
        True if a sandbox can be created, False if grading goes on without
        one because ``allow_unsandboxed`` is set.

    Raises
    ------
    SandboxUnavailableError
        If no sandbox can be created and unsandboxed grading is not allowed.
    """
    problem = sandbox_problem(bwrap)
    if problem is None:
        return True
    if not allow_unsandboxed:
        raise SandboxUnavailableError(
            f"cannot grade in a sandbox: {problem}. Fix that, or set "
            f"{ALLOW_UNSANDBOXED_ENV}=1 to grade without isolation, where "
            "students' code can change grades and read the solutions."
        )
    log.warning(
        "GRADING WITHOUT A SANDBOX (%s=1): %s. Students' code runs with your "
        "rights and can change grades and read the solutions.",
        ALLOW_UNSANDBOXED_ENV,
        problem,
    )
    return False


class SandboxedKernelManager(AsyncKernelManager):
    """A kernel manager that starts each kernel inside a bubblewrap sandbox.

    Every option can be set in ``nbgrader_config.py`` as
    ``c.SandboxedKernelManager.<option>``.
    """

    memory_limit = Int(
        SandboxLimits.memory_bytes,
        help="Address space of each kernel process, in bytes.",
    ).tag(config=True)
    cpu_time_limit = Int(
        SandboxLimits.cpu_seconds,
        help="CPU time of each kernel process, in seconds.",
    ).tag(config=True)
    task_limit = Int(
        SandboxLimits.max_tasks,
        help="Processes and threads that one kernel may run at once.",
    ).tag(config=True)
    file_size_limit = Int(
        SandboxLimits.max_file_bytes,
        help="Size of any one file that the kernel writes, in bytes.",
    ).tag(config=True)
    scratch_size = Int(
        SandboxLimits.scratch_bytes,
        help="Size of the kernel's writable /tmp and grading folder, in bytes.",
    ).tag(config=True)
    read_only_paths = List(
        Unicode(),
        help=(
            "More host folders or files that kernels may read, at the same "
            "path. mymodules above the grading folder, COURSE_DATA_DIR and "
            "the kernel's Python are always readable."
        ),
    ).tag(config=True)
    sandbox_uid = Int(
        None,
        allow_none=True,
        help=(
            "When grading as root, the uid and gid that kernels run as; "
            "None picks a random unused-looking uid for each kernel."
        ),
    ).tag(config=True)
    bwrap = Unicode(
        "bwrap", help="The bubblewrap program, a name on PATH or a path."
    ).tag(config=True)
    allow_unsandboxed = Bool(
        help=(
            "Grade without a sandbox where none can be created, instead of "
            f"failing. Defaults to True if {ALLOW_UNSANDBOXED_ENV}=1."
        ),
    ).tag(config=True)

    @default("allow_unsandboxed")
    def _allow_unsandboxed_default(self):
        return unsandboxed_allowed_by_env()

    _runtime_dir = None
    sandboxed = False

    @property
    def limits(self):
        """The configured limits, as a :class:`SandboxLimits`."""
        return SandboxLimits(
            memory_bytes=self.memory_limit,
            cpu_seconds=self.cpu_time_limit,
            max_tasks=self.task_limit,
            max_file_bytes=self.file_size_limit,
            scratch_bytes=self.scratch_size,
        )

    def _choose_uid(self):
        if not grading_as_root():
            return None
        if self.sandbox_uid is not None:
            return self.sandbox_uid
        return SANDBOX_UID_BASE + secrets.randbelow(SANDBOX_UID_COUNT)

    async def _async_pre_start_kernel(self, **kw):
        self.sandboxed = check_sandbox(self.allow_unsandboxed, self.log, self.bwrap)
        if not self.sandboxed:
            return await super()._async_pre_start_kernel(**kw)

        if self._runtime_dir is None:
            self._runtime_dir = Path(
                tempfile.mkdtemp(prefix="nbgrader-sandbox-")
            ).resolve()
        self.transport = "ipc"
        self.ip = str(self._runtime_dir / "kernel")
        self.connection_file = str(self._runtime_dir / "connection.json")
        # A SIGINT to bwrap would end the sandbox; ipykernel interrupts
        # itself when asked on the control channel.
        self.kernel_spec.interrupt_mode = "message"

        kernel_cmd, kw = await super()._async_pre_start_kernel(**kw)
        cwd = Path(kw.get("cwd") or os.getcwd()).resolve()
        env = kw.get("env") or os.environ
        uid = self._choose_uid()
        if uid is not None:
            os.chown(self._runtime_dir, uid, uid)
            os.chown(self.connection_file, uid, uid)

        # A kernel spec's own files (a launcher script, say) are the
        # instructor's, so the kernel may read them.
        extra_paths = [*self.read_only_paths, self.kernel_spec.resource_dir]
        command = build_command(
            kernel_cmd,
            cwd=cwd,
            runtime_dir=self._runtime_dir,
            mounts=read_only_mounts(kernel_cmd, cwd, env, extra_paths),
            env=sandbox_environment(kernel_cmd, env),
            limits=self.limits,
            uid=uid,
            bwrap=self.bwrap,
        )
        # ipykernel prints its connection details to the process's own
        # stdout, which would reach the grader's terminal once per student.
        kw.setdefault("stdout", subprocess.DEVNULL)
        self.log.debug("Starting a sandboxed kernel in %s: %s", cwd, command)
        return command, kw

    async def _async_cleanup_resources(self, restart=False):
        await super()._async_cleanup_resources(restart=restart)
        if not restart and self._runtime_dir is not None:
            shutil.rmtree(self._runtime_dir, ignore_errors=True)
            self._runtime_dir = None


def _decides_score(msg, outs):
    # nbgrader scores a test cell by its first error, stderr stream or
    # execute_result output (nbgrader.utils.determine_grade in 0.9.6).
    if msg["msg_type"] in ("error", "execute_result"):
        return True
    if msg["msg_type"] != "stream" or msg["content"].get("name") != "stderr":
        return False
    return not any(
        out.output_type == "stream" and out.get("name") == "stderr" for out in outs
    )


def kernel_died_output(message):
    """Return an error output that tells the student the kernel stopped."""
    return nbformat.v4.new_output(
        "error",
        ename="DeadKernelError",
        evalue=message,
        traceback=[f"DeadKernelError: {message}"],
    )


class SandboxedExecute(Execute):
    """nbgrader's Execute preprocessor, with kernels in a sandbox.

    nbgrader's ``Execute`` passes its own ``kernel_manager_class``, which
    overrides one set in the configuration, so the class is set here.

    A kernel that dies (a limit was exceeded, or a crash) ends that
    notebook's run. Plain nbgrader then drops the whole submission with an
    error. Here the cell that was running and every later code cell get an
    error output instead, so their tests score 0, the cells before keep
    their scores, and the student's feedback says what happened.
    """

    max_output_bytes = Int(
        16 * MIB,
        help=(
            "Output that one notebook keeps, in bytes. Later output is "
            "dropped, except errors, results and a cell's first stderr, "
            "which decide test scores."
        ),
    ).tag(config=True)

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("kernel_manager_class", SandboxedKernelManager)
        super().__init__(*args, **kwargs)

    def preprocess(self, nb, resources=None, km=None):
        self._kernel_died = False
        self._output_bytes = 0
        self._cut_cells = set()
        return super().preprocess(nb, resources, km)

    def output(self, outs, msg, display_id, cell_index):
        # nbclient keeps every output in the grader's memory until the
        # notebook is written, so a printing loop could fill the machine's
        # memory before the cell times out.
        self._output_bytes += len(json.dumps(msg["content"]))
        if self._output_bytes <= self.max_output_bytes:
            return super().output(outs, msg, display_id, cell_index)

        if cell_index not in self._cut_cells:
            self._cut_cells.add(cell_index)
            note = nbformat.v4.new_output(
                "stream", name="stdout", text=OUTPUT_CUT_MESSAGE
            )
            outs.append(note)
        if _decides_score(msg, outs):
            if msg["msg_type"] == "stream":
                msg["content"]["text"] = msg["content"]["text"][:KEPT_STDERR_CHARS]
            return super().output(outs, msg, display_id, cell_index)
        return None

    def preprocess_cell(self, cell, resources, index):
        if self._kernel_died:
            if cell.cell_type == "code":
                cell.outputs = [kernel_died_output(NOT_RUN_MESSAGE)]
            return cell, resources
        try:
            return super().preprocess_cell(cell, resources, index)
        except DeadKernelError:
            self._kernel_died = True
            self.log.error(
                "The kernel died while running cell %d of %s; it may have "
                "exceeded a sandbox limit. Later cells were not run and "
                "their tests score 0.",
                index,
                resources.get("metadata", {}).get("path", "the notebook"),
            )
            cell.outputs.append(kernel_died_output(KERNEL_DIED_MESSAGE))
            return cell, resources


def autograde_preprocessors():
    """Return nbgrader's autograde preprocessors with Execute sandboxed.

    Returns
    -------
    list
        The default of ``Autograde.autograde_preprocessors`` in the installed
        nbgrader, with ``Execute`` replaced by :class:`SandboxedExecute`.
    """
    defaults = Autograde.class_traits()["autograde_preprocessors"].default()
    return [SandboxedExecute if item is Execute else item for item in defaults]
