"""Write the demo class: made-up students' submissions in demo/submissions.

The demo class shows the pipeline on the cases an instructor meets in a real
class. Each student's notebooks are made from ``release/`` the way a student
would change them:

- aoki: everything right; files renamed by Colab and the browser
  ("Copy of week02.ipynb", "week04 (1).ipynb").
- baba: week 1 right; week 2 with the lecture's naive softmax, saved from
  Colab without the nbgrader metadata.
- chiba: week 2 divides by the sum of the whole batch; week 4 leaves out the
  last partial batch.
- doi: downloaded every assignment and submitted it unanswered.
- endo: week 2 with the naive softmax and every test cell replaced by
  ``print("OK")``.
- fujii: week 1 right, saved in the old notebook format 4.0; week 3 cut off
  in the middle of the download (not valid JSON).

``week03.zip`` is week 3 as an LMS zip download of two more students:
"Hirano Ken" in a folder per student (right answers) and "ishii" as a file
named after the student ("ishii_20002_Copy of week03.ipynb", with a flatten
that keeps the whole batch in one row).

Run ``python -m grading.demo_class`` after changing an assignment, so that
the demo matches the new release, and commit the result.
"""

import json
import shutil
import zipfile
from pathlib import Path

import nbformat

from grading.students import answered_notebook, read_pair

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEMO_SUBMISSIONS = PROJECT_ROOT / "demo" / "submissions"

NAIVE_SOFTMAX = """import numpy as np


def softmax(x):
    exp_x = np.exp(x)
    return exp_x / np.sum(exp_x, axis=-1, keepdims=True)"""

WHOLE_BATCH_SOFTMAX = """import numpy as np


def softmax(x):
    exp_x = np.exp(x - np.max(x, axis=-1, keepdims=True))
    return exp_x / np.sum(exp_x)"""

DROP_LAST_BATCH = """def accuracy(network, x, t, batch_size=100):
    correct = 0
    for i in range(len(x) // batch_size):
        batch = slice(i * batch_size, (i + 1) * batch_size)
        y = predict(network, x[batch])
        correct += np.sum(np.argmax(y, axis=1) == t[batch])
    return correct / len(x)"""


def _answered(assignment, answers=None):
    release, source = read_pair(PROJECT_ROOT, assignment)
    return answered_notebook(release, source, answers)


def _blank(assignment):
    release, _ = read_pair(PROJECT_ROOT, assignment)
    return release


def _without_nbgrader_metadata(notebook):
    for cell in notebook.cells:
        cell.metadata.pop("nbgrader", None)
        cell.metadata.pop("editable", None)
        cell.metadata.pop("deletable", None)
    return notebook


def _with_tests_replaced(notebook):
    for cell in notebook.cells:
        if cell.metadata.get("nbgrader", {}).get("grade"):
            cell.source = 'print("OK")'
    return notebook


def _as_format_4_0(notebook):
    data = json.loads(nbformat.writes(notebook))
    data["nbformat_minor"] = 0
    for cell in data["cells"]:
        cell.pop("id", None)
    return json.dumps(data, indent=1, ensure_ascii=False) + "\n"


def _cut_in_half(notebook):
    text = nbformat.writes(notebook)
    return text[: len(text) // 2]


def demo_students():
    """Return {student: {assignment: (file name, notebook or text)}}."""
    return {
        "aoki": {
            "week01": ("week01.ipynb", _answered("week01")),
            "week02": ("Copy of week02.ipynb", _answered("week02")),
            "week03": ("week03.ipynb", _answered("week03")),
            "week04": ("week04 (1).ipynb", _answered("week04")),
        },
        "baba": {
            "week01": ("week01.ipynb", _answered("week01")),
            "week02": (
                "week02.ipynb",
                _without_nbgrader_metadata(
                    _answered("week02", {"softmax": NAIVE_SOFTMAX})
                ),
            ),
        },
        "chiba": {
            "week02": (
                "week02.ipynb",
                _answered("week02", {"softmax": WHOLE_BATCH_SOFTMAX}),
            ),
            "week04": (
                "week04.ipynb",
                _answered("week04", {"accuracy": DROP_LAST_BATCH}),
            ),
        },
        "doi": {
            assignment: (f"{assignment}.ipynb", _blank(assignment))
            for assignment in ("week01", "week02", "week03", "week04")
        },
        "endo": {
            "week02": (
                "week02.ipynb",
                _with_tests_replaced(_answered("week02", {"softmax": NAIVE_SOFTMAX})),
            ),
        },
        "fujii": {
            "week01": ("week01.ipynb", _as_format_4_0(_answered("week01"))),
            "week03": ("week03.ipynb", _cut_in_half(_answered("week03"))),
        },
    }


FLATTEN_WHOLE_BATCH = """def flatten(images):
    return images.reshape(-1)"""


def write_lms_archive(path):
    """Write week 3 of two students as an LMS zip download."""
    members = {
        "Hirano Ken_20001_assignsubmission_file_/week03.ipynb": _answered("week03"),
        "ishii_20002_Copy of week03.ipynb": _answered(
            "week03", {"flatten": FLATTEN_WHOLE_BATCH}
        ),
    }
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, notebook in members.items():
            # A fixed date keeps the archive's bytes the same on every run.
            info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, nbformat.writes(notebook))
    print(f"wrote {path.relative_to(PROJECT_ROOT)}")


def write_demo_class(destination=DEMO_SUBMISSIONS):
    """Replace ``destination`` with the demo class's submissions."""
    if destination.exists():
        shutil.rmtree(destination)
    destination.mkdir(parents=True)
    write_lms_archive(destination / "week03.zip")
    for student, assignments in demo_students().items():
        for assignment, (filename, notebook) in assignments.items():
            folder = destination / student / assignment
            folder.mkdir(parents=True, exist_ok=True)
            text = notebook if isinstance(notebook, str) else nbformat.writes(notebook)
            (folder / filename).write_text(text, encoding="utf-8")
            print(f"wrote {(folder / filename).relative_to(PROJECT_ROOT)}")


if __name__ == "__main__":
    write_demo_class()
