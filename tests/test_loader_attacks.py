"""Hostile and unusual input for the data loaders and helper modules.

Each test feeds one malformed server response, file, cache, pickle or
array to a real component.
"""

import gzip
import io
import math
import pickle
import socket
import subprocess
import sys
import threading
import time
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from idx_helpers import idx_labels_bytes, make_split, spec_for

import datafiles
import mnist
from datafiles import fetch
from functions import sigmoid
from mnist import Split, load_mnist_split
from softmax import softmax
from weights import EXPECTED_SHAPES, read_weight_file

# ---------------------------------------------------------------------------
# Downloads from a local server that misbehaves in one way per URL prefix.
# ---------------------------------------------------------------------------

CONTENT = bytes(range(256)) * 40
HTML_PAGE = b"<!DOCTYPE html><html><body>Not found</body></html>"
HTML_OF_CONTENT_SIZE = HTML_PAGE + b" " * (len(CONTENT) - len(HTML_PAGE))
# 16 MiB of zeros compress to 16,328 bytes, so the body grows 1000 times when
# a client decodes its Content-Encoding.
GZIP_BOMB = gzip.compress(b"\0" * (16 << 20))
# Large enough that two processes hashing a corrupt copy overlap. With 4 MiB
# they collided in 10 of 10 tries on a 2-core machine.
LARGE_CONTENT = bytes(range(256)) * (16 << 10)
TIMEOUT_SECONDS = 2


class HostileMirrorHandler(BaseHTTPRequestHandler):
    """Send the response that the first path segment selects by ``respond_*`` name."""

    def do_GET(self):
        behaviour = self.path.strip("/").split("/")[0]
        self.server.requests.append(self.path)
        respond = getattr(self, "respond_" + behaviour.replace("-", "_"))
        try:
            respond()
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up on a broken response and closed the socket.
            pass

    def send_body(self, body, **headers):
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(body)

    def respond_good(self):
        self.send_body(CONTENT)

    def respond_large(self):
        self.send_body(LARGE_CONTENT)

    def respond_html_exact_size(self):
        self.send_body(HTML_OF_CONTENT_SIZE)

    def respond_gzip_bomb(self):
        self.send_body(GZIP_BOMB, Content_Encoding="gzip")

    def respond_cut(self):
        """Promise the whole file, send half of it and close the connection."""
        self.send_response(200)
        self.send_header("Content-Length", str(len(CONTENT)))
        self.end_headers()
        self.wfile.write(CONTENT[: len(CONTENT) // 2])
        self.wfile.flush()
        self.connection.shutdown(socket.SHUT_RDWR)

    def respond_garbage_status(self):
        self.wfile.write(b"THIS IS NOT HTTP\r\n\r\n")

    def respond_invalid_length(self):
        self.send_response(200)
        self.send_header("Content-Length", "many")
        self.end_headers()
        self.wfile.write(CONTENT)

    def respond_invalid_chunk(self):
        self.send_response(200)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.write(b"zz\r\nabc\r\n0\r\n\r\n")

    def respond_redirect_loop(self):
        self.send_response(302)
        self.send_header("Location", self.path)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def respond_redirect_other(self):
        host, port = self.server.peer.server_address
        self.send_response(302)
        self.send_header("Location", f"http://{host}:{port}/good/file.bin")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format, *args):
        pass


def start_server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), HostileMirrorHandler)
    httpd.daemon_threads = True
    httpd.requests = []
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    return httpd


@pytest.fixture(scope="module")
def server():
    """A hostile mirror, plus a second one on another port to redirect to."""
    first = start_server()
    second = start_server()
    first.peer = second
    second.peer = first
    yield first
    for httpd in (first, second):
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(params=["pooch", "urllib"])
def downloader(request, monkeypatch):
    """Run the test with pooch and again with the urllib fallback."""
    if request.param == "urllib":
        monkeypatch.setitem(sys.modules, "pooch", None)
    return request.param


def url(server, behaviour):
    host, port = server.server_address
    return f"http://{host}:{port}/{behaviour}/file.bin"


def spec(server, *behaviours, name="file.bin", content=CONTENT):
    return spec_for(name, content, [url(server, b) for b in behaviours])


def part_files(folder):
    return sorted(path.name for path in Path(folder).rglob("*.part"))


BROKEN_RESPONSE_CASES = [
    pytest.param("pooch", "garbage-status", id="pooch-garbage-status"),
    pytest.param("pooch", "invalid-length", id="pooch-invalid-length"),
    pytest.param("pooch", "invalid-chunk", id="pooch-invalid-chunk"),
    pytest.param("urllib", "garbage-status", id="urllib-garbage-status"),
    pytest.param("urllib", "invalid-length", id="urllib-invalid-length"),
    pytest.param("urllib", "invalid-chunk", id="urllib-invalid-chunk"),
]


@pytest.mark.parametrize(("client", "behaviour"), BROKEN_RESPONSE_CASES)
def test_broken_response_fails_over(server, tmp_path, monkeypatch, client, behaviour):
    if client == "urllib":
        monkeypatch.setitem(sys.modules, "pooch", None)
    path = fetch(spec(server, behaviour, "good"), tmp_path, timeout=TIMEOUT_SECONDS)
    assert path.read_bytes() == CONTENT
    assert part_files(tmp_path) == []


def test_cut_body_fails_over(server, tmp_path, downloader):
    path = fetch(spec(server, "cut", "good"), tmp_path, timeout=TIMEOUT_SECONDS)
    assert path.read_bytes() == CONTENT
    assert part_files(tmp_path) == []


def test_gzip_encoded_bomb_stopped(server, tmp_path, downloader):
    with pytest.raises(ConnectionError, match="10,240 バイトを超える"):
        fetch(spec(server, "gzip-bomb"), tmp_path, timeout=TIMEOUT_SECONDS)
    assert list(tmp_path.iterdir()) == []


def test_html_of_exact_size_rejected(server, tmp_path, downloader):
    with pytest.raises(ConnectionError, match="HTML ページ"):
        fetch(spec(server, "html-exact-size"), tmp_path, timeout=TIMEOUT_SECONDS)
    assert list(tmp_path.iterdir()) == []


def test_redirect_to_other_port_followed(server, tmp_path, downloader):
    path = fetch(spec(server, "redirect-other"), tmp_path, timeout=TIMEOUT_SECONDS)
    assert path.read_bytes() == CONTENT


def test_redirect_loop_fails_over(server, tmp_path, downloader):
    path = fetch(
        spec(server, "redirect-loop", "good"), tmp_path, timeout=TIMEOUT_SECONDS
    )
    assert path.read_bytes() == CONTENT


def test_name_outside_folder_rejected(server, tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    with pytest.raises(ValueError, match="escaped.bin"):
        spec(server, "good", name="../escaped.bin")
    assert not (tmp_path / "escaped.bin").exists()


def test_folder_at_target_rejected_early(server, tmp_path):
    (tmp_path / "file.bin").mkdir()
    count = len(server.requests)
    with pytest.raises(OSError, match="file.bin"):
        fetch(spec(server, "good"), tmp_path, timeout=TIMEOUT_SECONDS)
    assert len(server.requests) == count


def test_symlink_to_corrupt_file_kept(server, tmp_path):
    outside = tmp_path / "precious.txt"
    outside.write_bytes(b"not the data file")
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "file.bin").symlink_to(outside)
    path = fetch(spec(server, "good"), folder, timeout=TIMEOUT_SECONDS)
    assert path.read_bytes() == CONTENT
    assert outside.read_bytes() == b"not the data file"


def test_dangling_symlink_replaced(server, tmp_path):
    (tmp_path / "file.bin").symlink_to(tmp_path / "absent")
    path = fetch(spec(server, "good"), tmp_path, timeout=TIMEOUT_SECONDS)
    assert path.read_bytes() == CONTENT
    assert not (tmp_path / "absent").exists()


def test_zero_byte_file_downloaded_again(server, tmp_path):
    (tmp_path / "file.bin").write_bytes(b"")
    path = fetch(spec(server, "good"), tmp_path, timeout=TIMEOUT_SECONDS)
    assert path.read_bytes() == CONTENT


def test_env_folder_zero_byte_file_named(server, tmp_path, monkeypatch):
    (tmp_path / "file.bin").write_bytes(b"")
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    with pytest.raises(ValueError, match="大きさが 0 バイト"):
        fetch(spec(server, "good"))


def test_env_folder_with_spaces_and_japanese(server, tmp_path, monkeypatch):
    folder = tmp_path / "講義 データ" / "mnist と 重み"
    folder.mkdir(parents=True)
    (folder / "file.bin").write_bytes(CONTENT)
    monkeypatch.setenv("COURSE_DATA_DIR", str(folder))
    count = len(server.requests)
    assert fetch(spec(server, "good")) == folder / "file.bin"
    assert len(server.requests) == count


@pytest.mark.parametrize("value", ["", "   "], ids=["empty", "blank"])
def test_env_folder_blank_means_unset(value, monkeypatch):
    monkeypatch.setenv("COURSE_DATA_DIR", value)
    assert datafiles.resolve_data_folder().may_download


def test_env_folder_pointing_at_file_rejected(tmp_path, monkeypatch):
    regular_file = tmp_path / "data.txt"
    regular_file.write_text("a file where the data folder should be")
    monkeypatch.setenv("COURSE_DATA_DIR", str(regular_file))
    with pytest.raises(FileNotFoundError, match="data.txt"):
        datafiles.resolve_data_folder()


def test_env_folder_relative_resolved(tmp_path, monkeypatch):
    (tmp_path / "data").mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COURSE_DATA_DIR", "data")
    assert datafiles.resolve_data_folder().path == tmp_path / "data"


# The child process of the concurrency tests waits until the parent creates
# the file "go", so that both children call fetch() at the same moment.
CONCURRENT_FETCH = """
import sys
import time
from pathlib import Path

sys.path.insert(0, sys.argv[1])
import datafiles

folder, size, sha256, url, ready = sys.argv[2:7]
spec = datafiles.DataFile("file.bin", int(size), sha256, (url,))
Path(ready).touch()
deadline = time.monotonic() + 30
while not (Path(folder).parent / "go").exists() and time.monotonic() < deadline:
    time.sleep(0.001)
path = datafiles.fetch(spec, folder, timeout=10)
print(path.stat().st_size)
"""


def fetch_in_two_processes(server, folder):
    """Run fetch() in two processes at once and return their failures."""
    large = spec(server, "large", content=LARGE_CONTENT)
    modules = str(Path(datafiles.__file__).parent)
    processes = []
    for index in range(2):
        ready = folder.parent / f"ready-{index}"
        arguments = [modules, str(folder), str(large.size), large.sha256]
        arguments += [large.urls[0], str(ready)]
        processes.append(
            subprocess.Popen(
                [sys.executable, "-c", CONCURRENT_FETCH, *arguments],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if all((folder.parent / f"ready-{i}").exists() for i in range(2)):
            break
        time.sleep(0.01)
    (folder.parent / "go").touch()

    failures = []
    try:
        for process in processes:
            _, stderr = process.communicate(timeout=60)
            if process.returncode != 0:
                last_line = stderr.strip().splitlines()[-1:] or [""]
                failures.append(f"exit code {process.returncode}: {last_line[0]}")
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    return failures


@pytest.mark.parametrize(
    "existing",
    ["missing", "corrupt"],
)
def test_concurrent_fetch_both_succeed(server, tmp_path, existing):
    failures = []
    # Several rounds, because the collision depends on timing.
    for round_number in range(3):
        folder = tmp_path / f"round-{round_number}" / "data"
        folder.mkdir(parents=True)
        if existing == "corrupt":
            (folder / "file.bin").write_bytes(b"\1" * len(LARGE_CONTENT))
        failures += fetch_in_two_processes(server, folder)
        assert (folder / "file.bin").read_bytes() == LARGE_CONTENT
    assert failures == []


# ---------------------------------------------------------------------------
# The parsed-MNIST .npz cache.
# ---------------------------------------------------------------------------


@pytest.fixture
def small_test_split(tmp_path, monkeypatch):
    """Replace the test split by 10 written images and return folder and arrays."""
    split, images, labels = make_split(tmp_path, "test", 10, seed=3)
    monkeypatch.setitem(mnist.SPLITS, "test", split)
    return tmp_path, images, labels


def build_cache(folder):
    """Load the test split once and return the path of the cache it wrote."""
    load_mnist_split("test", data_dir=folder)
    (cache,) = (folder / "mnist").glob("test-*.npz")
    return cache


def load_raw(folder, **options):
    return load_mnist_split(
        "test", normalize=False, flatten=False, data_dir=folder, **options
    )


def test_cache_label_out_of_range_rebuilt(small_test_split):
    folder, images, labels = small_test_split
    cache = build_cache(folder)
    np.savez(cache, images=images, labels=np.full(10, 99, np.uint8))
    _, t = load_raw(folder, one_hot_label=True)
    assert np.argmax(t, axis=1).tolist() == labels.tolist()


def test_cache_replaced_by_npy_rebuilt(small_test_split):
    folder, images, _ = small_test_split
    cache = build_cache(folder)
    with open(cache, "wb") as stream:
        np.save(stream, images)
    x, _ = load_raw(folder)
    assert np.array_equal(x.reshape(10, 28, 28), images)


def npy_header_only(shape):
    header = io.BytesIO()
    fields = {"descr": "|u1", "fortran_order": False, "shape": shape}
    np.lib.format.write_array_header_1_0(header, fields)
    return header.getvalue()


def test_cache_huge_header_rebuilt(small_test_split):
    folder, images, _ = small_test_split
    cache = build_cache(folder)
    with zipfile.ZipFile(cache, "w") as archive:
        archive.writestr("images.npy", npy_header_only((2**40,)))
        archive.writestr("labels.npy", npy_header_only((2**40,)))
    x, _ = load_raw(folder)
    assert np.array_equal(x.reshape(10, 28, 28), images)


def test_cache_not_reused_for_other_labels(small_test_split, monkeypatch):
    folder, _, labels = small_test_split
    build_cache(folder)
    new_labels = (labels + 1) % 10
    content = idx_labels_bytes(new_labels)
    (folder / "mnist" / "test-labels-new.gz").write_bytes(content)
    previous = mnist.SPLITS["test"]
    relabelled = Split(
        images=previous.images,
        labels=spec_for("mnist/test-labels-new.gz", content),
        count=previous.count,
    )
    monkeypatch.setitem(mnist.SPLITS, "test", relabelled)
    _, t = load_raw(folder)
    assert t.tolist() == new_labels.tolist()


def test_cache_with_object_array_rebuilt(small_test_split, capsys):
    folder, images, labels = small_test_split
    cache = build_cache(folder)
    payload = np.empty(10, dtype=object)
    payload[0] = {"not": "labels"}
    np.savez(cache, images=images, labels=payload)
    _, t = load_raw(folder)
    assert t.tolist() == labels.tolist()
    assert "作り直します" in capsys.readouterr().out


def test_cache_replaced_by_pickle_rebuilt(small_test_split):
    folder, _, labels = small_test_split
    cache = build_cache(folder)
    cache.write_bytes(pickle.dumps({"labels": labels}))
    _, t = load_raw(folder)
    assert t.tolist() == labels.tolist()


def test_cache_path_taken_by_folder(small_test_split):
    folder, images, _ = small_test_split
    cache = build_cache(folder)
    cache.unlink()
    cache.mkdir()
    for _ in range(2):
        x, _ = load_raw(folder)
        assert np.array_equal(x.reshape(10, 28, 28), images)


@pytest.mark.parametrize("cached", [False, True], ids=["parsed", "cached"])
def test_result_changes_not_shared(small_test_split, cached):
    folder, images, labels = small_test_split
    if cached:
        build_cache(folder)
    x, t = load_raw(folder)
    x[:] = 0
    t[:] = 0
    x_again, t_again = load_raw(folder)
    assert np.array_equal(x_again.reshape(10, 28, 28), images)
    assert np.array_equal(t_again, labels)


# ---------------------------------------------------------------------------
# The restricted unpickler for weight files.
# ---------------------------------------------------------------------------


def random_network():
    rng = np.random.default_rng(7)
    return {
        name: rng.standard_normal(shape).astype(np.float32)
        for name, shape in EXPECTED_SHAPES.items()
    }


def write_weights(path, data):
    path.write_bytes(data)
    return path


PROTOCOL_CASES = [
    pytest.param(protocol, id=f"protocol-{protocol}") for protocol in range(6)
]


@pytest.mark.parametrize("protocol", PROTOCOL_CASES)
def test_weights_each_protocol_load(tmp_path, protocol):
    network = random_network()
    path = write_weights(tmp_path / "w.pkl", pickle.dumps(network, protocol))
    loaded = read_weight_file(path)
    for name in EXPECTED_SHAPES:
        assert np.array_equal(loaded[name], network[name]), name


def test_weights_none_value_rejected(tmp_path):
    network = random_network()
    network["W1"] = None
    path = write_weights(tmp_path / "w.pkl", pickle.dumps(network, 4))
    with pytest.raises(ValueError, match="W1"):
        read_weight_file(path)


class CallsNdarray:
    """An object that pickles as the call numpy.ndarray(shape, dtype).

    No real weight file contains this call, because NumPy pickles arrays with
    _reconstruct and __setstate__.
    """

    def __init__(self, shape):
        self.shape = shape

    def __reduce__(self):
        return (np.ndarray, (self.shape, np.dtype(np.float64)))


def test_weights_ndarray_call_rejected(tmp_path):
    data = pickle.dumps({"W1": CallsNdarray((2**40,))}, 4)
    path = write_weights(tmp_path / "w.pkl", data)
    with pytest.raises(pickle.UnpicklingError):
        read_weight_file(path)


def nested_tuple_key_pickle(depth):
    """Return a pickle of {((...((),)...),): None} with ``depth`` nested tuples."""
    return (
        pickle.PROTO
        + bytes([2])
        + pickle.EMPTY_DICT
        + pickle.EMPTY_TUPLE
        + pickle.TUPLE1 * depth
        + pickle.NONE
        + pickle.SETITEM
        + pickle.STOP
    )


def test_weights_deep_key_rejected(tmp_path):
    path = write_weights(tmp_path / "w.pkl", nested_tuple_key_pickle(2000))
    with pytest.raises((ValueError, pickle.UnpicklingError)):
        read_weight_file(path)


# The loader runs in a child process, so that a crash of the interpreter does
# not take pytest with it.
READ_WEIGHTS = """
import pickle
import sys

sys.path.insert(0, sys.argv[1])
from weights import read_weight_file

try:
    read_weight_file(sys.argv[2])
except (ValueError, pickle.UnpicklingError):
    pass
"""


def test_weights_deep_key_no_crash(tmp_path):
    path = write_weights(tmp_path / "w.pkl", nested_tuple_key_pickle(1_000_000))
    modules = str(Path(datafiles.__file__).parent)
    completed = subprocess.run(
        [sys.executable, "-c", READ_WEIGHTS, modules, str(path)],
        capture_output=True,
        timeout=120,
    )
    assert completed.returncode == 0


def test_weights_persistent_id_rejected(tmp_path):
    class PersistentPickler(pickle.Pickler):
        def persistent_id(self, obj):
            return "external" if isinstance(obj, np.ndarray) else None

    stream = io.BytesIO()
    PersistentPickler(stream, protocol=4).dump(random_network())
    path = write_weights(tmp_path / "w.pkl", stream.getvalue())
    with pytest.raises(pickle.UnpicklingError, match="persistent"):
        read_weight_file(path)


def test_weights_object_array_rejected(tmp_path):
    network = random_network()
    payload = np.empty(EXPECTED_SHAPES["W1"], dtype=object)
    payload[0, 0] = {"nested": [1, 2, 3]}
    network["W1"] = payload
    path = write_weights(tmp_path / "w.pkl", pickle.dumps(network, 4))
    with pytest.raises(pickle.UnpicklingError, match="安全のため読み込みを中止"):
        read_weight_file(path)


class SetsDtypeState:
    """An object that pickles as the shared float32 dtype with a big-endian state."""

    def __reduce__(self):
        state = (3, ">", None, None, None, -1, -1, 0)
        return (np.dtype, ("f4", False, False), state)


def test_weights_dtype_state_leaves_float32(tmp_path):
    data = pickle.dumps({"W1": SetsDtypeState()}, 4)
    path = write_weights(tmp_path / "w.pkl", data)
    with pytest.raises(ValueError):
        read_weight_file(path)
    assert np.dtype(np.float32).byteorder == "="
    assert np.array_equal(np.float32([1.5]) * 2, np.float32([3.0]))


# ---------------------------------------------------------------------------
# Activation functions on unusual dtypes.
# ---------------------------------------------------------------------------


def reference_sigmoid(value):
    """Return the logistic function of a Python number without overflow."""
    value = float(value)
    if value >= 0:
        return 1 / (1 + math.exp(-value))
    return math.exp(value) / (1 + math.exp(value))


@pytest.mark.parametrize(
    ("dtype", "value"),
    [
        (np.uint8, 1),
        (np.uint16, 1),
        (np.uint32, 1),
        (np.uint64, 1),
        (np.int8, -128),
        (np.int16, -32768),
        (np.bool_, True),
    ],
)
def test_sigmoid_integer_edge_values(dtype, value):
    result = sigmoid(np.array([value], dtype=dtype))
    assert float(result[0]) == pytest.approx(reference_sigmoid(value), rel=1e-3)


def reference_softmax(x):
    values = np.asarray(x, dtype=np.float64)
    shifted = np.exp(values - values.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


UNUSUAL_SOFTMAX_INPUTS = {
    "float16": np.array([1.0, 2.0, 3.0], dtype=np.float16),
    "bool": np.array([True, False, True]),
    "object": np.array([1, 2.5, 3], dtype=object),
    "int64-extremes": np.array([np.iinfo(np.int64).min, 0, np.iinfo(np.int64).max]),
    "subnormal": np.array([5e-324, -5e-324, 0.0]),
    "negative-zero": np.array([-0.0, 0.0]),
    "three-dimensional": np.arange(24, dtype=np.float64).reshape(2, 3, 4),
    "strided-view": np.arange(24, dtype=np.float32).reshape(4, 6)[::2, ::3],
    "transposed": np.arange(12, dtype=np.float64).reshape(3, 4).T,
    "read-only": np.frombuffer(np.float64([1, 2, 3]).tobytes(), dtype=np.float64),
}


@pytest.mark.parametrize(
    "x", UNUSUAL_SOFTMAX_INPUTS.values(), ids=UNUSUAL_SOFTMAX_INPUTS.keys()
)
def test_stable_softmax_unusual_dtype(x):
    result = softmax(x)
    assert result.shape == x.shape
    assert np.allclose(result, reference_softmax(x), rtol=1e-6)
