"""Run nbgrader's grading kernels inside a bubblewrap sandbox.

Without this module, a student's code runs with the rights of the user who
runs ``nbgrader autograde``, in ``autograded/<student>/<assignment>/``, so it can
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
from pathlib import Path

import nbformat
from jupyter_client.manager import AsyncKernelManager
from nbgrader.converters.autograde import Autograde
from nbgrader.preprocessors import Execute
from traitlets import Bool, Int, List, Unicode, default

from grading.sandbox_command import (
    MIB,
    SANDBOX_UID_BASE,
    SANDBOX_UID_COUNT,
    SandboxLimits,
    SandboxUnavailableError,
    build_command,
    grading_as_root,
    read_only_mounts,
    sandbox_environment,
    with_course_data_dir,
)

ALLOW_UNSANDBOXED_ENV = "COURSE_ALLOW_UNSANDBOXED"

# Shown to the student where output beyond max_output_bytes was dropped.
OUTPUT_CUT_MESSAGE = "（出力が多すぎるため、ここから先の出力は省略しました。）\n"

# Characters kept of a stderr output that arrives after the output limit.
KEPT_STDERR_CHARS = 2000


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
        env = with_course_data_dir(kw.get("env") or os.environ, cwd)
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

    # nbclient calls cleanup_resources after a kernel died, and
    # AsyncKernelManager binds that name to the base class's method.
    cleanup_resources = _async_cleanup_resources


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


class SandboxedExecute(Execute):
    """nbgrader's Execute preprocessor, with kernels in a sandbox.

    nbgrader's ``Execute`` passes its own ``kernel_manager_class``, which
    overrides one set in the configuration, so the class is set here. A
    kernel that dies (at the CPU time limit, say) ends that submission's
    grading with an error, as in plain nbgrader.
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
