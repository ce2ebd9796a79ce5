"""Write the shared cells into every notebook and strip outputs and editor metadata.

Every lecture notebook (``notebooks/*.ipynb``) and assignment source
(``source/*/*.ipynb``) carries two generated cells, found by their cell tag:

- ``colab-badge``: a Markdown cell with the "Open in Colab" badge for that file;
- ``setup``: the code cell in ``notebooks/setup_cell.py`` that makes
  ``mymodules`` importable in Colab and in local Jupyter.

The repository that both point to is set once, in ``[tool.course]`` of
``pyproject.toml``. Run this script after editing a notebook; ``--check``
changes nothing and exits 1 if any notebook is out of date (the tests use it).
"""

import argparse
import json
import sys
import tomllib
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SETUP_CELL_FILE = PROJECT_ROOT / "notebooks" / "setup_cell.py"
NOTEBOOK_GLOBS = ("notebooks/*.ipynb", "source/*/*.ipynb")

# Cell metadata that the course needs; everything else is editor state.
KEPT_CELL_METADATA = ("nbgrader", "tags")
KEPT_NOTEBOOK_METADATA = ("kernelspec",)
KERNELSPEC = {"display_name": "Python 3", "language": "python", "name": "python3"}


def read_settings():
    """Return the ``[tool.course]`` table of pyproject.toml."""
    with open(PROJECT_ROOT / "pyproject.toml", "rb") as stream:
        return tomllib.load(stream)["tool"]["course"]


def badge_markdown(repository, notebook_path):
    """Return the Markdown of the Open-in-Colab badge for one notebook."""
    github_path = repository.removeprefix("https://github.com/").rstrip("/")
    relative = notebook_path.relative_to(PROJECT_ROOT).as_posix()
    target = (
        f"https://colab.research.google.com/github/{github_path}/blob/main/{relative}"
    )
    image = "https://colab.research.google.com/assets/colab-badge.svg"
    return f"[![Open In Colab]({image})]({target})"


def setup_cell_source(repository):
    """Return the setup cell's code with the repository URL filled in."""
    return (
        SETUP_CELL_FILE.read_text(encoding="utf-8")
        .replace("{repository}", repository)
        .rstrip("\n")
    )


def sync_notebook(notebook, path, settings):
    """Update ``notebook`` (a dict from JSON) in place."""
    generated = {
        "colab-badge": badge_markdown(settings["repository"], path),
        "setup": setup_cell_source(settings["repository"]),
    }
    for cell in notebook["cells"]:
        tags = cell.get("metadata", {}).get("tags", [])
        for tag, source in generated.items():
            if tag in tags:
                cell["source"] = source.splitlines(keepends=True)
        cell["metadata"] = {
            key: value
            for key, value in cell.get("metadata", {}).items()
            if key in KEPT_CELL_METADATA
        }
        if cell["cell_type"] == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
        else:
            cell.pop("outputs", None)
            cell.pop("execution_count", None)
        if not cell.get("attachments"):
            cell.pop("attachments", None)

    metadata = {
        key: value
        for key, value in notebook.get("metadata", {}).items()
        if key in KEPT_NOTEBOOK_METADATA
    }
    metadata["kernelspec"] = KERNELSPEC
    notebook["metadata"] = metadata


def missing_tags(notebook):
    """Return the generated-cell tags that ``notebook`` lacks."""
    present = {
        tag
        for cell in notebook["cells"]
        for tag in cell.get("metadata", {}).get("tags", [])
    }
    return [tag for tag in ("colab-badge", "setup") if tag not in present]


def render(notebook):
    """Serialise like Jupyter does, so that saving in Jupyter changes nothing."""
    return json.dumps(notebook, indent=1, ensure_ascii=False, sort_keys=True) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check",
        action="store_true",
        help="change nothing; exit 1 if a notebook is not up to date and clean",
    )
    parser.add_argument(
        "paths", nargs="*", type=Path, help="notebooks to process (default: all)"
    )
    arguments = parser.parse_args(argv)

    settings = read_settings()
    paths = arguments.paths or sorted(
        path for pattern in NOTEBOOK_GLOBS for path in PROJECT_ROOT.glob(pattern)
    )
    stale = []
    for path in paths:
        path = path.resolve()
        original = path.read_text(encoding="utf-8")
        notebook = json.loads(original)
        absent = missing_tags(notebook)
        if absent:
            stale.append(f"{path}: no cell tagged {', '.join(absent)}")
            continue
        sync_notebook(notebook, path, settings)
        updated = render(notebook)
        if updated == original:
            continue
        if arguments.check:
            stale.append(f"{path}: not synced or not clean")
        else:
            path.write_text(updated, encoding="utf-8")
            print(f"updated {path.relative_to(PROJECT_ROOT)}")

    if stale:
        print("\n".join(stale), file=sys.stderr)
        print("Run: python scripts/sync_notebooks.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
