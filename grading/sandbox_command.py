"""Build the bubblewrap command that runs one grading kernel.

:func:`build_command` turns a kernel command into a ``bwrap`` command line:
the namespaces, the file system that the kernel sees, its environment and
its resource limits. :mod:`grading.sandbox` starts kernels with it.
"""

import functools
import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

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
# nbgrader sets NBGRADER_EXECUTION=autograde, which notebooks may check.
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

# The user cache folder's name in mymodules/datafiles.py (CACHE_NAME).
DATA_CACHE_NAME = "nn-output-layer"

# Private folders inside the sandbox's /tmp for what the kernel writes.
SANDBOX_HOME = "/tmp"
SANDBOX_ENV = {
    "HOME": SANDBOX_HOME,
    "IPYTHONDIR": "/tmp/.ipython",
    "MPLCONFIGDIR": "/tmp/.config/matplotlib",
    "XDG_CACHE_HOME": "/tmp/.cache",
    "XDG_CONFIG_HOME": "/tmp/.config",
}

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

    NOTE: the limits are per process, so all of a kernel's processes
    together may use up to ``max_tasks`` times ``memory_bytes``; only a
    cgroup could cap their sum.
    """

    # A kernel that had imported NumPy and matplotlib and loaded the MNIST
    # test split used about 1 GiB of address space (VmPeak) on a 2-core
    # machine; OpenBLAS reserves more per core on larger machines.
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


def with_course_data_dir(env, cwd):
    """Return ``env`` with ``COURSE_DATA_DIR`` naming the grader's data folder.

    Without ``COURSE_DATA_DIR``, the loaders in ``mymodules/datafiles.py``
    use ``mymodules/data`` or the user cache folder and download what is
    missing. Inside the sandbox ``mymodules`` is read-only and the network is
    down, so the kernel is pointed at the first of those host folders that
    contains data, which it may read but not change.

    Parameters
    ----------
    env : dict
        Environment that nbgrader gives the kernel.
    cwd : pathlib.Path
        Resolved grading folder.

    Returns
    -------
    dict
    """
    if env.get("COURSE_DATA_DIR"):
        return env
    candidates = []
    modules = find_course_modules(cwd)
    if modules is not None:
        candidates.append(modules / "data")
    cache_home = env.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    candidates.append(Path(cache_home) / DATA_CACHE_NAME)
    for folder in candidates:
        if any((folder / name).exists() for name in ("mnist", "sample_weight.pkl")):
            return {**env, "COURSE_DATA_DIR": str(folder)}
    # NOTE: with no data on the host, the kernel cannot download it, so tests
    # that need MNIST fail where plain nbgrader would download the files.
    return env


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
    # NOTE: the kernel can also create files here, on the host's disk, each
    # up to max_file_bytes, until the kernel manager deletes the folder.
    plan.bind(Mount(runtime_dir, runtime_dir), option="--bind")
    _grading_folder_options(plan, cwd, limits.scratch_bytes)
    command += plan.options
    command += ["--chdir", str(cwd), "--remount-ro", "/", "--"]

    if uid is not None:
        command += _drop_root_command(uid)
    return command + _limit_command(limits) + list(kernel_cmd)
