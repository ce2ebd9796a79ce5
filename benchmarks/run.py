"""Run the benchmarks and print each figure next to its floor or peer.

Usage::

    COURSE_DATA_DIR=/path/to/data python -m benchmarks.run
    python -m benchmarks.run --parts inference,softmax --repeats 3

The data folder must contain ``mnist/t10k-*.gz`` and ``sample_weight.pkl``;
it is only read. Parsed arrays are cached in a temporary folder that is
removed at the end, so the user's own cache is neither used nor changed.
"""

import argparse
import json
import os
import shlex
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

from benchmarks.machine import describe_machine, format_machine
from benchmarks.report import format_markdown, format_text

PARTS = ("inference", "loading", "softmax", "grading")
DEFAULT_REPEATS = 7
DEFAULT_CLASS_SIZES = (5, 10, 20)


def parse_arguments(argv):
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run",
        description="Time inference, MNIST loading, softmax and grading side by "
        "side with their floors and peers, and print the medians and ratios.",
    )
    parser.add_argument(
        "--parts",
        default=",".join(PARTS),
        help=f"comma-separated parts to run, from {', '.join(PARTS)} (default: all)",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=DEFAULT_REPEATS,
        help=f"timed rounds of every case (default: {DEFAULT_REPEATS})",
    )
    parser.add_argument(
        "--grading-repeats",
        type=int,
        default=None,
        help="timed rounds of the grading part, whose rounds take seconds "
        "(default: 3, or --repeats if smaller)",
    )
    parser.add_argument(
        "--class-sizes",
        default=",".join(str(size) for size in DEFAULT_CLASS_SIZES),
        help="comma-separated numbers of simulated students to grade "
        "(default: 5,10,20)",
    )
    parser.add_argument(
        "--no-sandbox",
        action="store_true",
        help="skip grading in the project's bubblewrap sandbox",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=os.environ.get("COURSE_DATA_DIR") or None,
        help="folder with mnist/t10k-*.gz and sample_weight.pkl "
        "(default: $COURSE_DATA_DIR)",
    )
    parser.add_argument(
        "--markdown", action="store_true", help="print Markdown tables for docs/"
    )
    parser.add_argument(
        "--plots", type=Path, default=None, help="folder to write PNG plots into"
    )
    parser.add_argument(
        "--json", type=Path, default=None, help="file to write all figures into"
    )
    arguments = parser.parse_args(argv)

    arguments.parts = [part.strip() for part in arguments.parts.split(",") if part]
    unknown = [part for part in arguments.parts if part not in PARTS]
    if unknown:
        parser.error(f"unknown part {unknown[0]!r}; choose from {', '.join(PARTS)}")
    if arguments.repeats < 1:
        parser.error(f"--repeats must be at least 1, got {arguments.repeats}")
    if arguments.grading_repeats is None:
        arguments.grading_repeats = min(3, arguments.repeats)
    try:
        arguments.class_sizes = [
            int(size) for size in arguments.class_sizes.split(",") if size
        ]
    except ValueError:
        parser.error(
            f"--class-sizes must be whole numbers, got {arguments.class_sizes!r}"
        )
    if any(size < 1 for size in arguments.class_sizes):
        parser.error("--class-sizes must be at least 1")
    if arguments.data_dir is None:
        parser.error(
            "no data folder: set COURSE_DATA_DIR or --data-dir to a folder with "
            "mnist/t10k-*.gz and sample_weight.pkl"
        )
    arguments.data_dir = arguments.data_dir.expanduser().resolve()
    if not (arguments.data_dir / "sample_weight.pkl").is_file():
        parser.error(f"sample_weight.pkl not found in {arguments.data_dir}")
    return arguments


def run_part(name, arguments):
    """Run one part and return its PartResult."""
    if name == "inference":
        from benchmarks import inference

        return inference.run(arguments.repeats)
    if name == "loading":
        from benchmarks import loading

        return loading.run(arguments.repeats, arguments.data_dir)
    if name == "softmax":
        from benchmarks import softmax_speed

        return softmax_speed.run(arguments.repeats)
    from benchmarks import grading

    return grading.run(
        arguments.grading_repeats,
        arguments.class_sizes,
        sandbox=not arguments.no_sandbox,
    )


def main(argv=None):
    """Run the chosen parts, print the tables and write the optional files."""
    arguments = parse_arguments(argv)
    command = "python -m benchmarks.run " + shlex.join(
        sys.argv[1:] if argv is None else argv
    )
    # The helper modules read the data folder from here; a private cache folder
    # keeps first loads real and leaves the user's cache alone.
    saved = {
        name: os.environ.get(name) for name in ("COURSE_DATA_DIR", "XDG_CACHE_HOME")
    }
    try:
        os.environ["COURSE_DATA_DIR"] = str(arguments.data_dir)
        with tempfile.TemporaryDirectory(prefix="benchmark-cache-") as cache_home:
            os.environ["XDG_CACHE_HOME"] = cache_home
            return _run(arguments, command.strip())
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _run(arguments, command):
    layout = format_markdown if arguments.markdown else format_text
    facts = describe_machine()
    print(f"Command: {command}")
    print(f"Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(format_machine(facts, markdown=arguments.markdown))

    results = []
    for name in arguments.parts:
        started = time.perf_counter()
        part = run_part(name, arguments)
        part.findings.append(f"This part took {time.perf_counter() - started:.0f} s.")
        results.append(part)
        print()
        print(layout(part), flush=True)

    targets = [target for part in results for target in part.targets]
    missed = [target for target in targets if not target.met]
    print()
    print(f"Targets met: {len(targets) - len(missed)} of {len(targets)}")

    if arguments.plots is not None:
        _write_plots(results, arguments.plots)
    if arguments.json is not None:
        record = {
            "command": command,
            "machine": dict(facts),
            "parts": [asdict(part) for part in results],
        }
        arguments.json.write_text(json.dumps(record, indent=2, ensure_ascii=False))
    return 0


def _write_plots(results, folder):
    from benchmarks import plots

    folder.mkdir(parents=True, exist_ok=True)
    for part in results:
        if part.key == "inference":
            plots.plot_inference(part, folder / "benchmark-inference.png")
        elif part.key == "grading" and part.series.get("classes"):
            plots.plot_grading(part, folder / "benchmark-grading.png")


if __name__ == "__main__":
    sys.exit(main())
