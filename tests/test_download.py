"""Tests of datafiles.fetch against a real HTTP server on 127.0.0.1.

The server plays several mirrors at once: each URL prefix responds in its own
way (the right file, an HTML error page, a truncated file, 403, no response).
"""

import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from idx_helpers import spec_for

import datafiles
from datafiles import fetch, resolve_data_folder

CONTENT = bytes(range(256)) * 40
HTML_PAGE = b"<!DOCTYPE html><html><body>Access denied</body></html>"
SLOW_SECONDS = 3
TIMEOUT_SECONDS = 0.5


class MirrorHandler(BaseHTTPRequestHandler):
    """Respond according to the first path segment: good, html, truncated, forbidden, slow."""

    def do_GET(self):
        behaviour = self.path.strip("/").split("/")[0]
        self.server.requests.append(self.path)
        if behaviour == "forbidden":
            self.send_error(403)
            return
        if behaviour == "slow":
            time.sleep(SLOW_SECONDS)
        if behaviour == "endless":
            self.send_endless_body()
            return
        body = {"html": HTML_PAGE, "truncated": CONTENT[:1000]}.get(behaviour, CONTENT)
        try:
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            # The client timed out on the slow response and closed the socket.
            pass

    def send_endless_body(self):
        """Send chunks with no length until the client hangs up (bounded at 64 MiB)."""
        self.send_response(200)
        self.end_headers()
        try:
            for _ in range(1024):
                self.wfile.write(b"\0" * 65536)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, format, *args):
        pass


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), MirrorHandler)
    httpd.daemon_threads = True
    httpd.requests = []
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def url(server, behaviour):
    host, port = server.server_address
    return f"http://{host}:{port}/{behaviour}/file.bin"


def spec(server, *behaviours):
    return spec_for("sub/file.bin", CONTENT, [url(server, b) for b in behaviours])


def leftovers(folder):
    return sorted(path.name for path in folder.rglob("*.part"))


def test_good_mirror_downloads_file(server, tmp_path, capsys):
    path = fetch(spec(server, "good"), tmp_path, timeout=TIMEOUT_SECONDS)
    assert path == tmp_path / "sub" / "file.bin"
    assert path.read_bytes() == CONTENT
    assert url(server, "good") in capsys.readouterr().out


def test_bad_mirrors_fail_over_to_good(server, tmp_path, capsys):
    bad = ("html", "truncated", "forbidden", "slow")
    path = fetch(spec(server, *bad, "good"), tmp_path, timeout=TIMEOUT_SECONDS)
    assert path.read_bytes() == CONTENT
    assert url(server, "good") in capsys.readouterr().out
    assert leftovers(tmp_path) == []


def test_all_mirrors_failing_lists_each(server, tmp_path):
    bad = ("html", "truncated", "forbidden", "slow")
    with pytest.raises(ConnectionError) as error:
        fetch(spec(server, *bad), tmp_path, timeout=TIMEOUT_SECONDS)
    message = str(error.value)
    assert f"{url(server, 'html')}: ファイルではなく HTML ページです" in message
    assert f"{url(server, 'truncated')}: 大きさが 1,000 バイト" in message
    assert f"{url(server, 'forbidden')}: HTTP 403" in message
    assert f"{url(server, 'slow')}: {TIMEOUT_SECONDS} 秒待っても" in message


def test_failed_download_leaves_nothing(server, tmp_path):
    with pytest.raises(ConnectionError):
        fetch(spec(server, "html", "truncated"), tmp_path, timeout=TIMEOUT_SECONDS)
    assert list((tmp_path / "sub").iterdir()) == []


def test_refused_connection_is_reported(tmp_path):
    closed = spec_for("file.bin", CONTENT, ["http://127.0.0.1:9/file.bin"])
    with pytest.raises(ConnectionError, match="127.0.0.1:9/file.bin: "):
        fetch(closed, tmp_path, timeout=TIMEOUT_SECONDS)


def test_without_pooch_urllib_downloads(server, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pooch", None)
    path = fetch(spec(server, "forbidden", "good"), tmp_path, timeout=TIMEOUT_SECONDS)
    assert path.read_bytes() == CONTENT


def test_without_pooch_urllib_reports_403(server, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pooch", None)
    with pytest.raises(ConnectionError, match="HTTP 403"):
        fetch(spec(server, "forbidden"), tmp_path, timeout=TIMEOUT_SECONDS)


def test_corrupt_download_folder_file_replaced(server, tmp_path, capsys):
    target = tmp_path / "sub" / "file.bin"
    target.parent.mkdir()
    target.write_bytes(HTML_PAGE)
    path = fetch(spec(server, "good"), tmp_path, timeout=TIMEOUT_SECONDS)
    assert path.read_bytes() == CONTENT
    assert "削除して取り直します" in capsys.readouterr().out


def test_verified_file_is_not_downloaded_again(server, tmp_path):
    fetch(spec(server, "good"), tmp_path, timeout=TIMEOUT_SECONDS)
    count = len(server.requests)
    fetch(spec(server, "good"), tmp_path, timeout=TIMEOUT_SECONDS)
    assert len(server.requests) == count


def test_env_folder_missing_file_not_downloaded(server, tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    count = len(server.requests)
    with pytest.raises(FileNotFoundError, match="COURSE_DATA_DIR"):
        fetch(spec(server, "good"))
    assert len(server.requests) == count


def test_env_folder_corrupt_file_kept_and_named(server, tmp_path, monkeypatch):
    target = tmp_path / "sub" / "file.bin"
    target.parent.mkdir()
    target.write_bytes(CONTENT[:-1])
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    with pytest.raises(ValueError, match="大きさが 10,239 バイト") as error:
        fetch(spec(server, "good"))
    assert str(target) in str(error.value)
    assert target.read_bytes() == CONTENT[:-1]


def test_env_folder_missing_folder_rejected(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "absent"))
    with pytest.raises(FileNotFoundError, match="absent"):
        resolve_data_folder()


def test_unwritable_folder_rejected(server, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where a folder should be")
    with pytest.raises(PermissionError, match="data_dir"):
        fetch(spec(server, "good"), blocker, timeout=TIMEOUT_SECONDS)


def test_default_folder_falls_back_to_user_cache(tmp_path):
    """A copy of the module whose data/ cannot be created uses the user cache."""
    modules = tmp_path / "mymodules"
    modules.mkdir()
    source = Path(datafiles.__file__).read_text(encoding="utf-8")
    (modules / "datafiles.py").write_text(source, encoding="utf-8")
    (modules / "data").write_text("a file where the data folder should be")
    environment = {
        key: value for key, value in os.environ.items() if key != "COURSE_DATA_DIR"
    }
    environment["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    completed = subprocess.run(
        [
            sys.executable,
            "-c",
            "import datafiles; print(datafiles.resolve_data_folder().path)",
        ],
        cwd=modules,
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    )
    assert completed.stdout.strip() == str(tmp_path / "cache" / "nn-output-layer")


@pytest.mark.parametrize("use_pooch", [True, False], ids=["pooch", "urllib"])
def test_endless_body_stopped_at_size(server, tmp_path, monkeypatch, use_pooch):
    if not use_pooch:
        monkeypatch.setitem(sys.modules, "pooch", None)
    with pytest.raises(ConnectionError, match="10,240 バイトを超える"):
        fetch(spec(server, "endless"), tmp_path, timeout=TIMEOUT_SECONDS)
    assert list((tmp_path / "sub").iterdir()) == []
