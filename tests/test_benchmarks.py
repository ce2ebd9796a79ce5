"""Smoke tests of the benchmark suite: each part runs and its report is complete.

These tests check the structure of the output, never the times, because the
machines that run them are shared and their timings vary from run to run.
"""

import copy
import json
import subprocess
import sys

import nbformat
import pytest

from benchmarks import PROJECT_ROOT
from benchmarks.report import PartResult, Row, Target, format_markdown, format_text

EXPECTED_ROWS = {
    "inference": [
        "loop, 1 image at a time",
        "batches of 1",
        "batches of 10",
        "batches of 100",
        "batches of 1000",
        "whole set at once",
        "floor: 3 matrix products",
        "batches of 100, 1 BLAS thread",
        "whole set at once, 1 BLAS thread",
        "floor: 3 matrix products, 1 BLAS thread",
    ],
    "loading": [
        "first load",
        "first load, uint8",
        "floor: decompress the .gz files",
        "cached load",
        "cached load, uint8",
        "peer: pickle, the book's way",
        "peer: pickle, uint8",
        "new process: import, cached load",
        "new process: pickle peer",
        "new process: import NumPy alone",
    ],
    "softmax": [
        "stable, (10000, 10) batch",
        "naive, (10000, 10) batch",
        "stable, 1 image (10,)",
        "naive, 1 image (10,)",
    ],
}


def run_benchmarks(arguments, data_dir, tmp_path):
    """Run the suite in a new process and return its stdout and JSON record."""
    record_path = tmp_path / "figures.json"
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--data-dir", str(data_dir)]
        + ["--json", str(record_path), "--plots", str(tmp_path)]
        + arguments,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    return completed.stdout, json.loads(record_path.read_text())


@pytest.fixture(scope="module")
def fast_parts(real_data_dir, tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("benchmarks")
    stdout, record = run_benchmarks(
        ["--parts", "inference,loading,softmax", "--repeats", "1"],
        real_data_dir,
        tmp_path,
    )
    return stdout, record, tmp_path


def test_fast_parts_report_every_row(fast_parts):
    _, record, _ = fast_parts
    for part in record["parts"]:
        names = [row["name"] for row in part["rows"]]
        assert names == EXPECTED_ROWS[part["key"]]


def test_fast_parts_figures_positive(fast_parts):
    _, record, _ = fast_parts
    for part in record["parts"]:
        for row in part["rows"]:
            assert row["seconds"] > 0, row
            if row["reference"]:
                assert row["ratio"] > 0, row


def test_fast_parts_references_exist(fast_parts):
    _, record, _ = fast_parts
    for part in record["parts"]:
        names = {row["name"] for row in part["rows"]}
        for row in part["rows"]:
            if row["reference"]:
                assert row["reference"] in names, row


def test_fast_parts_check_all_targets(fast_parts):
    _, record, _ = fast_parts
    targets = {part["key"]: len(part["targets"]) for part in record["parts"]}
    assert targets == {"inference": 2, "loading": 2, "softmax": 0}


def test_fast_parts_print_tables(fast_parts):
    stdout, _, _ = fast_parts
    assert "Inference on the 10,000 MNIST test images" in stdout
    assert "Loading the MNIST test split" in stdout
    assert "Softmax: stable vs naive" in stdout
    assert "Targets met: " in stdout


def test_fast_parts_describe_machine(fast_parts):
    stdout, record, _ = fast_parts
    assert set(record["machine"]) >= {"CPU", "cores", "memory", "Python", "NumPy"}
    assert "python -m benchmarks.run --data-dir" in stdout


def test_fast_parts_write_inference_plot(fast_parts):
    _, _, tmp_path = fast_parts
    plot = tmp_path / "benchmark-inference.png"
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_unknown_part_rejected(real_data_dir, tmp_path):
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--parts", "training"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 2
    assert "unknown part 'training'" in completed.stderr


def test_target_at_least_verdicts():
    assert Target("speed-up", 8.0, 8, at_least=True).met
    assert not Target("speed-up", 7.9, 8, at_least=True).met


def test_target_at_most_verdicts():
    assert Target("multiple", 1.5, 1.5, at_least=False).met
    assert not Target("multiple", 1.6, 1.5, at_least=False).met


def test_table_layouts_contain_rows():
    part = PartResult(key="demo", title="Demo")
    part.rows = [Row("fast", 0.002, "slow", 0.5), Row("slow", 0.004)]
    part.targets = [Target("fast vs slow", 2.0, 1.5, at_least=True)]
    for layout in (format_text, format_markdown):
        text = layout(part)
        assert "fast" in text
        assert "2 ms" in text
        assert "0.50x" in text
        assert "target >= 1.5x) met" in text


WEEK4_SOURCE = PROJECT_ROOT / "source" / "week04" / "week04.ipynb"
NBGRADER_CONFIG = PROJECT_ROOT / "nbgrader_config.py"


@pytest.fixture
def week4_source():
    if not (WEEK4_SOURCE.is_file() and NBGRADER_CONFIG.is_file()):
        pytest.skip("source/week04 or nbgrader_config.py not found")
    return nbformat.read(WEEK4_SOURCE, as_version=4)


def test_fill_in_solutions_copies_source(week4_source):
    from benchmarks.grading import fill_in_solutions

    released = copy.deepcopy(week4_source)
    for cell in released.cells:
        if cell.metadata.get("nbgrader", {}).get("solution"):
            cell.source = "raise NotImplementedError()"
    submission = fill_in_solutions(released, week4_source)
    solutions = [
        cell.source
        for cell in submission.cells
        if cell.metadata.get("nbgrader", {}).get("solution")
    ]
    assert solutions
    for source in solutions:
        assert "NotImplementedError" not in source
        assert "### BEGIN SOLUTION" not in source
        assert "### END SOLUTION" not in source


@pytest.mark.slow
def test_grading_part_reports_rows(week4_source, real_data_dir, tmp_path):
    _, record = run_benchmarks(
        ["--parts", "grading", "--repeats", "1", "--class-sizes", "1", "--no-sandbox"],
        real_data_dir,
        tmp_path,
    )
    (part,) = record["parts"]
    names = [row["name"] for row in part["rows"]]
    assert names == ["autograde, 1 submission", "floor: nbclient, 1 notebook"]
    assert part["rows"][0]["ratio"] > 0
    assert len(part["targets"]) == 1
    assert any("Every submission scored" in line for line in part["findings"])
