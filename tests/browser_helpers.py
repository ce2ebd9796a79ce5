"""A real Jupyter server and a headless Chromium for the browser tests.

``JupyterServer`` starts ``jupyter lab`` on 127.0.0.1 with a free port, a
random token and Jupyter's configuration, data and runtime folders in a
temporary folder, so the user's own settings and workspaces stay out of the
test. ``launch_chromium`` starts the Debian package's Chromium
(``/usr/bin/chromium``) through Playwright, with a new, empty profile.
"""

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")

# Headless, no sandbox (tests run as root) and no background connections,
# which a machine without internet access refuses one by one.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# Seconds to wait for the server to respond. A cold start with nbgrader's
# extensions took about 5 s on a 2-core machine.
SERVER_START_TIMEOUT = 120

# On first start JupyterLab shows a pop-up about fetching Jupyter news, which
# covers the notebook. The news plugin and the update check are turned off.
DISABLED_LAB_PLUGINS = {"@jupyterlab/apputils-extension:announcements": True}


def free_port():
    """Return a TCP port on 127.0.0.1 that is free at the time of the call."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def isolated_jupyter_env(home):
    """Return environment variables that keep Jupyter's state under ``home``.

    Parameters
    ----------
    home : pathlib.Path
        Receives ``config/``, ``data/``, ``runtime/`` and ``ipython/``.

    Returns
    -------
    dict[str, str]
        A copy of ``os.environ`` with the Jupyter folders and PATH set.
    """
    env = dict(os.environ)
    for variable, name in (
        ("JUPYTER_CONFIG_DIR", "config"),
        ("JUPYTER_DATA_DIR", "data"),
        ("JUPYTER_RUNTIME_DIR", "runtime"),
        ("IPYTHONDIR", "ipython"),
    ):
        (home / name).mkdir(parents=True, exist_ok=True)
        env[variable] = str(home / name)
    env.pop("JUPYTER_PATH", None)
    # nbgrader starts alembic as a program, from this environment's bin/.
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env["PATH"]

    labconfig = home / "config" / "labconfig"
    labconfig.mkdir(exist_ok=True)
    page_config = {"disabledExtensions": DISABLED_LAB_PLUGINS}
    (labconfig / "page_config.json").write_text(json.dumps(page_config))
    return env


class JupyterServer:
    """``jupyter lab`` serving ``root_dir`` on 127.0.0.1 with a random token.

    Use it as a context manager: the server is stopped, with its kernels, on
    exit. Its log is in ``log_path``.
    """

    def __init__(self, root_dir, env, log_path):
        self.root_dir = Path(root_dir)
        self.env = env
        self.log_path = Path(log_path)
        self.port = free_port()
        self.token = secrets.token_hex(24)
        self.process = None

    @property
    def base_url(self):
        """The server's address, without a trailing slash."""
        return f"http://127.0.0.1:{self.port}"

    def url(self, path):
        """Return the address of ``path`` with the token as a query parameter."""
        separator = "&" if "?" in path else "?"
        return f"{self.base_url}{path}{separator}token={self.token}"

    def __enter__(self):
        command = [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={self.port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root_dir}",
            "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            command.append("--allow-root")
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            command,
            cwd=self.root_dir,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            self._wait_until_ready()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _wait_until_ready(self):
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        status_url = self.url("/api/status")
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"jupyter lab exited with code {self.process.returncode} "
                    f"before it responded; see its log in {self.log_path}"
                )
            try:
                with urllib.request.urlopen(status_url, timeout=5) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.5)
        raise TimeoutError(
            f"jupyter lab did not respond on port {self.port} within "
            f"{SERVER_START_TIMEOUT} s; see its log in {self.log_path}"
        )

    def __exit__(self, *exc_info):
        if self.process is not None and self.process.poll() is None:
            # The server's own process group also contains its kernels.
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._log.close()


def launch_chromium(playwright, viewport=(1400, 900)):
    """Start headless Chromium with a new, empty profile.

    Parameters
    ----------
    playwright : playwright.sync_api.Playwright
    viewport : tuple of int
        Width and height of the page in pixels (and of the screenshots).

    Returns
    -------
    playwright.sync_api.BrowserContext
        Close it to stop Chromium; the profile folder is then deleted.
    """
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    context = playwright.chromium.launch_persistent_context(
        profile,
        executable_path=str(CHROMIUM),
        headless=True,
        # Playwright passes the profile as --user-data-dir itself.
        args=CHROMIUM_FLAGS,
        viewport={"width": viewport[0], "height": viewport[1]},
    )
    context.on("close", lambda _: shutil.rmtree(profile, ignore_errors=True))
    return context
