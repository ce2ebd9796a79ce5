"""Take in student submissions so that nbgrader grades what the students wrote.

Submissions from Colab and from learning-management systems often arrive
damaged. The file is renamed ("Copy of week02 (1).ipynb"), the nbgrader cell
metadata is lost, duplicated or edited, test cells are deleted or retyped,
and old notebook format versions come back. nbgrader 0.9.6 gives such a
notebook 0 points without an error, or stops the whole batch.

This module copies each submission into nbgrader's ``submitted/`` folder
after two steps:

1. Find the file: the notebook name is recovered from the file name, and a
   student with several candidate files is graded on the newest one.
2. Rebuild the notebook from the released one: every cell of the release
   comes back in its place with its own metadata, the student's answer cells
   are matched by nbgrader metadata, by identical content or by the names
   they define, and the student's extra cells stay after the cell they
   followed.

Every change, every refusal and every suspicious line of code is reported
by student, assignment and file, so that nothing is silently graded as 0.
"""

import ast
import copy
import json
import re
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell

# A copy or a second download of the same file, as Colab and browsers name it.
_COPY_PREFIX = re.compile(r"^(copy\s+of\s+|コピー\s*[-－]\s*)+", re.IGNORECASE)
_COPY_SUFFIX = re.compile(
    r"(\s*\(\d+\)|\s*のコピー|\s*-\s*copy(\s*\d+)?)+$", re.IGNORECASE
)

# Names that can change what the tests see when a student assigns, deletes or
# patches them. They are reported for a human to check, and the grade is kept.
_PROTECTED_NAMES = {
    "np",
    "numpy",
    "builtins",
    "__builtins__",
    "sys",
    "math",
    "warnings",
    "mnist",
    "weights",
    "softmax_module",
}
# NOTE: code in the kernel can always defeat tests that run in the same kernel
# (an IPython input transformer can turn every later cell into `pass`). The
# scan reads the code as written, so code built at run time is reported only
# by the call that runs it (exec or eval). A computed getattr is not reported.
_SUSPICIOUS_CALLS = {
    "setattr": "changes an attribute by name",
    "delattr": "deletes an attribute by name",
    "exec": "runs code built at run time",
    "eval": "runs code built at run time",
    "compile": "builds code at run time",
    "__import__": "imports a module by name",
    "get_ipython": "changes how IPython runs later cells",
    "globals": "reads or changes global names by string",
    "exit": "stops the kernel",
    "quit": "stops the kernel",
}
_SUSPICIOUS_MODULES = {
    "ctypes": "changes memory directly",
    "gc": "reaches other objects",
    "importlib": "reloads or replaces modules",
    "inspect": "reads the calling code",
    "signal": "changes signal handling",
    "subprocess": "starts programs",
    "IPython": "changes how IPython runs later cells",
}


# Largest file taken from an LMS archive; a notebook here is under 1 MB.
MAX_ARCHIVE_MEMBER_BYTES = 50 * 1024**2


class IntakeError(Exception):
    """A submission that cannot be graded, with the reason as its message."""


@dataclass
class IntakeReport:
    """Outcome of taking in one student's submission of one assignment."""

    student: str
    assignment: str
    notebook: str
    source_file: str = ""
    # The student's name as an LMS archive gives it; empty for folders.
    student_name: str = ""
    repairs: list = field(default_factory=list)
    warnings: list = field(default_factory=list)
    error: str = ""

    def notes(self):
        """Return all messages, errors first, as one list of strings."""
        notes = [f"ERROR: {self.error}"] if self.error else []
        return notes + self.repairs + self.warnings


def notebook_name_from_file(filename):
    """Return the notebook name that a submitted file name stands for.

    Parameters
    ----------
    filename : str
        For example ``"Copy of week02 (1).ipynb"``.

    Returns
    -------
    str
        The name without copy markers and extension, in lower case
        (``"week02"``).
    """
    stem = Path(filename).name
    if stem.lower().endswith(".ipynb"):
        stem = stem[: -len(".ipynb")]
    stem = stem.strip().strip("「」\"'")
    stem = _COPY_PREFIX.sub("", stem)
    stem = _COPY_SUFFIX.sub("", stem)
    stem = stem.strip().strip("「」\"'")
    if stem.lower().endswith(".ipynb"):
        stem = stem[: -len(".ipynb")]
    return stem.strip().lower()


def _download_order(path):
    # A browser names the second download "X (1).ipynb", the third "X (2)",
    # so a higher number is a later file; the modification time breaks ties.
    numbers = re.findall(r"\((\d+)\)", path.name)
    return (int(numbers[-1]) if numbers else 0, path.stat().st_mtime, path.name)


def match_submitted_files(paths, notebook_names):
    """Assign submitted files to the assignment's notebooks.

    A file matches a notebook when its normalised name equals the notebook
    name or ends with it (LMS downloads put the student's name first). When
    the assignment has one notebook and the student sent exactly one file,
    that file is used whatever its name. Of several files for one notebook,
    the one with the highest download number ("X (2).ipynb") is used, then the
    most recently modified one.

    Parameters
    ----------
    paths : list of pathlib.Path
        The student's ``.ipynb`` files.
    notebook_names : list of str
        The notebook names of the assignment (file names without extension).

    Returns
    -------
    chosen : dict of str to pathlib.Path
        Notebook name to the file to grade.
    notes : list of str
        One line for each file that was renamed or left out.
    """
    candidates = {name: [] for name in notebook_names}
    unmatched = []
    for path in paths:
        normalised = notebook_name_from_file(path.name)
        names = [
            name
            for name in notebook_names
            if normalised == name.lower() or normalised.endswith(name.lower())
        ]
        if names:
            candidates[max(names, key=len)].append(path)
        else:
            unmatched.append(path)

    if len(notebook_names) == 1 and not candidates[notebook_names[0]]:
        if len(unmatched) == 1:
            candidates[notebook_names[0]] = unmatched
            unmatched = []

    chosen = {}
    notes = []
    for name, files in candidates.items():
        if not files:
            continue
        files.sort(key=_download_order)
        chosen[name] = files[-1]
        if files[-1].name != f"{name}.ipynb":
            notes.append(f"graded file '{files[-1].name}' as {name}.ipynb")
        for ignored in files[:-1]:
            notes.append(
                f"ignored '{ignored.name}': '{files[-1].name}' is a later "
                f"download and is graded as {name}.ipynb"
            )
    for path in unmatched:
        notes.append(f"ignored '{path.name}': not a notebook of this assignment")
    return chosen, notes


def read_submission(path):
    """Read a submitted notebook and upgrade it to nbformat 4.5.

    Parameters
    ----------
    path : pathlib.Path
        The submitted ``.ipynb`` file.

    Returns
    -------
    notebook : nbformat.NotebookNode
    notes : list of str
        One line if the format version was upgraded.

    Raises
    ------
    IntakeError
        If the file is not a readable Jupyter notebook.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise IntakeError(f"cannot read '{path.name}': {error}") from error
    try:
        json.loads(text)
    except json.JSONDecodeError as error:
        raise IntakeError(_json_error_message(path.name, text, error)) from error
    try:
        original = nbformat.reads(text, as_version=nbformat.NO_CONVERT)
        notebook = nbformat.reads(text, as_version=4)
    except Exception as error:  # nbformat raises several unrelated types
        first_line = str(error).strip().splitlines()[0] if str(error) else ""
        raise IntakeError(
            f"'{path.name}' is not a valid Jupyter notebook "
            f"({type(error).__name__}: {first_line})"
        ) from error

    notes = []
    version = f"{original.get('nbformat')}.{original.get('nbformat_minor', 0)}"
    if version != "4.5":
        notes.append(f"upgraded notebook format {version} to 4.5")
    return notebook, notes


def _json_error_message(filename, text, error):
    """Return why ``text`` is not JSON, in words an instructor can act on."""
    if _ends_inside_json(text):
        line = text.count("\n") + 1
        # The column of the last character, counted from 1.
        column = len(text) - text.rfind("\n") - 1
        return (
            f"'{filename}' is not a valid Jupyter notebook: the file is cut off "
            f"(it ends at line {line}, column {column} before the JSON is "
            "complete, as after an interrupted download); ask the student to "
            "submit it again"
        )
    return (
        f"'{filename}' is not a valid Jupyter notebook: invalid JSON at line "
        f"{error.lineno}, column {error.colno} ({error.msg}); ask the student "
        "to submit it again"
    )


def _ends_inside_json(text):
    """Return True if ``text`` ends inside a string or an unclosed bracket."""
    depth = 0
    in_string = False
    escaped = False
    for character in text:
        if in_string:
            if escaped:
                escaped = False
            elif character == "\\":
                escaped = True
            elif character == '"':
                in_string = False
        elif character == '"':
            in_string = True
        elif character in "[{":
            depth += 1
        elif character in "]}":
            depth -= 1
    return in_string or depth > 0


def _normalised_source(cell):
    return "\n".join(line.rstrip() for line in cell.source.strip().splitlines())


def defined_names(source):
    """Return the top-level names that a code cell defines.

    Parameters
    ----------
    source : str
        Python code of one cell.

    Returns
    -------
    set of str
        Names of functions, classes and assigned variables. For code with a
        syntax error, the names of ``def`` lines and simple assignments.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError:
        pattern = r"^(?:def\s+(\w+)|class\s+(\w+)|(\w+)\s*=[^=])"
        return {
            next(group for group in match.groups() if group)
            for match in re.finditer(pattern, source, re.MULTILINE)
        }

    names = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                names.update(
                    leaf.id for leaf in ast.walk(target) if isinstance(leaf, ast.Name)
                )
    return names


def _grade_id(cell):
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def _is_solution(cell):
    return bool(cell.get("metadata", {}).get("nbgrader", {}).get("solution"))


def _is_test(cell):
    nbgrader_metadata = cell.get("metadata", {}).get("nbgrader", {})
    return bool(nbgrader_metadata.get("grade")) and not nbgrader_metadata.get(
        "solution"
    )


def _match_cells(student_cells, release_cells, answer_names):
    """Return, for each student cell, the index of its release cell or None."""
    by_grade_id = {
        _grade_id(cell): index
        for index, cell in enumerate(release_cells)
        if _grade_id(cell)
    }
    by_source = {}
    for index, cell in enumerate(release_cells):
        if not _is_solution(cell):
            by_source.setdefault((cell.cell_type, _normalised_source(cell)), index)
    stubs = {
        (cell.cell_type, _normalised_source(cell)): index
        for index, cell in enumerate(release_cells)
        if _is_solution(cell)
    }
    setup_index = next(
        (
            index
            for index, cell in enumerate(release_cells)
            if "setup" in cell.get("metadata", {}).get("tags", [])
        ),
        None,
    )

    matches = []
    for cell in student_cells:
        key = (cell.cell_type, _normalised_source(cell))
        grade_id = _grade_id(cell)
        if grade_id in by_grade_id:
            release_cell = release_cells[by_grade_id[grade_id]]
            if release_cell.cell_type == cell.cell_type or not _is_solution(
                release_cell
            ):
                matches.append(by_grade_id[grade_id])
                continue
        if key in by_source:
            matches.append(by_source[key])
        elif key in stubs:
            matches.append(stubs[key])
        elif "setup" in cell.get("metadata", {}).get("tags", []) and setup_index:
            matches.append(setup_index)
        elif cell.cell_type == "code":
            names = defined_names(cell.source)
            owners = [index for index, wanted in answer_names.items() if names & wanted]
            matches.append(owners[0] if owners else None)
        else:
            matches.append(None)
    return matches


def rebuild_notebook(student, release, answer_names):
    """Rebuild a submitted notebook on the cells of the released notebook.

    Parameters
    ----------
    student : nbformat.NotebookNode
        The submitted notebook (nbformat 4).
    release : nbformat.NotebookNode
        The notebook that students were given.
    answer_names : dict of int to set of str
        For each answer (solution) cell of ``release``, by cell index, the
        names that the instructor's solution defines (``{"softmax"}``).

    Returns
    -------
    notebook : nbformat.NotebookNode
        Every release cell once, in release order, with release metadata;
        answer cells hold the student's code. Cells the student added follow
        the cell they followed in the submission.
    notes : list of str
        One line per repair.
    """
    release_cells = release.cells
    matches = _match_cells(student.cells, release_cells, answer_names)
    notes = []

    # The last student cell for an answer wins, as it would when the student
    # runs the notebook top to bottom; earlier copies stay as extra cells.
    chosen = {}
    for position, index in enumerate(matches):
        if index is None:
            continue
        if _is_solution(release_cells[index]):
            chosen[index] = position
        else:
            chosen.setdefault(index, position)

    extras_after = {}
    anchor = -1
    removed_tests = []
    restored_metadata = []
    restored_sources = []
    for position, (cell, index) in enumerate(zip(student.cells, matches, strict=True)):
        if index is not None and chosen[index] == position:
            anchor = index
            release_cell = release_cells[index]
            release_metadata = release_cell.metadata.get("nbgrader")
            if release_metadata and cell.metadata.get("nbgrader") != release_metadata:
                restored_metadata.append(_grade_id(release_cell))
            if release_metadata and not _is_solution(release_cell):
                if _normalised_source(cell) != _normalised_source(release_cell):
                    restored_sources.append(_grade_id(release_cell))
            continue
        if index is not None and _is_test(release_cells[index]):
            removed_tests.append(_grade_id(release_cells[index]))
            continue
        if index is not None and not _is_solution(release_cells[index]):
            continue
        extra = copy.deepcopy(cell)
        extra.metadata = {"tags": list(cell.metadata.get("tags", []))}
        if not extra.metadata["tags"]:
            extra.metadata = {}
        extras_after.setdefault(anchor, []).append(extra)

    all_student_names = set()
    for cell in student.cells:
        if cell.cell_type == "code":
            all_student_names |= defined_names(cell.source)

    cells = list(extras_after.get(-1, []))
    missing_answers = []
    restored_cells = []
    for index, release_cell in enumerate(release_cells):
        cell = copy.deepcopy(release_cell)
        if index in chosen:
            if _is_solution(release_cell):
                cell.source = student.cells[chosen[index]].source
        elif _is_solution(release_cell):
            if answer_names.get(index, set()) & all_student_names:
                # The answer was written in another cell; the stub here would
                # overwrite it with a function that raises.
                cell.source = "# この問題の答えは別のセルに書かれています。"
            else:
                missing_answers.append(_grade_id(release_cell))
        elif _grade_id(release_cell) or "setup" in cell.metadata.get("tags", []):
            restored_cells.append(_grade_id(release_cell) or "setup")
        cells.append(cell)
        cells.extend(extras_after.get(index, []))

    if restored_metadata:
        notes.append(f"restored nbgrader metadata of: {', '.join(restored_metadata)}")
    if restored_sources:
        notes.append(f"restored edited cells: {', '.join(restored_sources)}")
    if restored_cells:
        notes.append(f"put back deleted cells: {', '.join(restored_cells)}")
    if removed_tests:
        notes.append(f"removed duplicated test cells: {', '.join(removed_tests)}")
    if missing_answers:
        notes.append(
            f"no answer cell for {', '.join(missing_answers)}; graded as unanswered"
        )

    notebook = nbformat.v4.new_notebook(metadata=copy.deepcopy(release.metadata))
    used_ids = set()
    for cell in cells:
        cell_id = cell.get("id")
        if not cell_id or cell_id in used_ids:
            cell["id"] = new_code_cell().id
        used_ids.add(cell["id"])
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    notebook.cells = cells
    return notebook, notes


def suspicious_lines(notebook, release, test_names=frozenset()):
    """Return the student's lines that may change what the tests see.

    Only cells that differ from the release are read. The grade is kept, and
    the lines are reported for the instructor to check by hand.

    Parameters
    ----------
    notebook : nbformat.NotebookNode
        The rebuilt notebook.
    release : nbformat.NotebookNode
        The notebook that students were given.
    test_names : set of str, optional
        Names that the hidden tests define (see ``hidden_test_names``); a
        student who defines one of them is reported.

    Returns
    -------
    list of str
        ``"cell N line L: <reason>: <code>"`` for each finding.
    """
    release_sources = {_normalised_source(cell) for cell in release.cells}
    findings = []
    for cell_number, cell in enumerate(notebook.cells, start=1):
        if cell.cell_type != "code" or _normalised_source(cell) in release_sources:
            continue
        lines = cell.source.splitlines()
        for line_number, reason in _scan_code(cell.source, test_names):
            code = lines[line_number - 1].strip() if line_number <= len(lines) else ""
            findings.append(f"cell {cell_number} line {line_number}: {reason}: {code}")
    return findings


def _root_name(node):
    while isinstance(node, ast.Attribute | ast.Subscript):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def hidden_test_names(source_notebook):
    """Return the private names (``_x``) that the test cells of ``source`` bind.

    Parameters
    ----------
    source_notebook : nbformat.NotebookNode
        The instructor's notebook, hidden tests included.

    Returns
    -------
    set of str
    """
    names = set()
    for cell in source_notebook.cells:
        if not _is_test(cell):
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, ast.FunctionDef | ast.ClassDef):
                names.add(node.name)
    return {name for name in names if name.startswith("_")}


def _scan_code(source, test_names=frozenset()):
    try:
        tree = ast.parse(source)
    except SyntaxError:
        # IPython magics and shell escapes are not Python; look at them as text.
        return [
            (number, "runs an IPython magic or shell command")
            for number, line in enumerate(source.splitlines(), start=1)
            if line.lstrip().startswith(("%", "!"))
        ]

    findings = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.ClassDef) and node.name in test_names:
            findings.append(
                (node.lineno, f"defines '{node.name}', a name of the tests")
            )
        targets = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AugAssign | ast.AnnAssign | ast.Delete):
            targets = node.targets if isinstance(node, ast.Delete) else [node.target]
        for target in targets:
            root = _root_name(target)
            if isinstance(target, ast.Name) and target.id in _PROTECTED_NAMES:
                findings.append((node.lineno, f"rebinds '{target.id}'"))
            elif isinstance(target, ast.Name) and target.id in test_names:
                findings.append(
                    (node.lineno, f"binds '{target.id}', a name of the tests")
                )
            elif isinstance(target, ast.Attribute | ast.Subscript) and (
                root in _PROTECTED_NAMES
            ):
                findings.append((node.lineno, f"changes an attribute of '{root}'"))
        if isinstance(node, ast.Import | ast.ImportFrom):
            modules = [alias.name for alias in node.names]
            if isinstance(node, ast.ImportFrom) and node.module:
                modules = [node.module]
            for module in modules:
                top = module.split(".")[0]
                if top in _SUSPICIOUS_MODULES:
                    findings.append(
                        (
                            node.lineno,
                            f"imports {top}, which {_SUSPICIOUS_MODULES[top]}",
                        )
                    )
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname == "np" and alias.name != "numpy":
                        findings.append((node.lineno, f"binds 'np' to {alias.name}"))
        if isinstance(node, ast.Call):
            name = node.func.id if isinstance(node.func, ast.Name) else None
            if isinstance(node.func, ast.Attribute) and node.func.attr in (
                "_exit",
                "kill",
                "exit",
                "abort",
            ):
                name = node.func.attr
                findings.append((node.lineno, f"calls {name}, which stops the kernel"))
            elif name in _SUSPICIOUS_CALLS:
                findings.append(
                    (node.lineno, f"calls {name}(), which {_SUSPICIOUS_CALLS[name]}")
                )
    return sorted(set(findings))


def load_answer_names(source_notebook, release_notebook):
    """Map each answer cell of the release to the names its solution defines.

    Parameters
    ----------
    source_notebook, release_notebook : nbformat.NotebookNode
        The instructor's notebook and the student version made from it.

    Returns
    -------
    dict of int to set of str
        Release cell index to names, for answer (solution) cells.
    """
    solutions = {
        _grade_id(cell): defined_names(cell.source)
        for cell in source_notebook.cells
        if _is_solution(cell)
    }
    return {
        index: solutions.get(_grade_id(cell), set())
        for index, cell in enumerate(release_notebook.cells)
        if _is_solution(cell)
    }


def take_in_student(student_dir, student, assignment, course_root):
    """Copy one student's submission of one assignment into ``submitted/``.

    Parameters
    ----------
    student_dir : pathlib.Path
        Folder with the student's files for ``assignment``.
    student : str
        Student id, used as nbgrader's student id.
    assignment : str
        Assignment id, for example ``"week02"``.
    course_root : pathlib.Path
        Folder with ``source/``, ``release/`` and ``nbgrader_config.py``.

    Returns
    -------
    list of IntakeReport
        One report per notebook of the assignment.
    """
    release_dir = course_root / "release" / assignment
    notebook_names = sorted(path.stem for path in release_dir.glob("*.ipynb"))
    files = sorted(path for path in student_dir.rglob("*") if path.is_file())
    notebooks = [path for path in files if path.suffix.lower() == ".ipynb"]
    chosen, file_notes = match_submitted_files(notebooks, notebook_names)

    target_dir = course_root / "submitted" / student / assignment
    if target_dir.exists():
        shutil.rmtree(target_dir)
    target_dir.mkdir(parents=True)

    reports = []
    for name in notebook_names:
        report = IntakeReport(student=student, assignment=assignment, notebook=name)
        reports.append(report)
        report.repairs.extend(note for note in file_notes if f"as {name}.ipynb" in note)
        if name not in chosen:
            report.error = f"no file found for {name}.ipynb"
            continue
        report.source_file = chosen[name].name
        try:
            notebook, notes = read_submission(chosen[name])
        except IntakeError as error:
            report.error = str(error)
            continue
        report.repairs.extend(notes)

        release = nbformat.read(release_dir / f"{name}.ipynb", as_version=4)
        source = nbformat.read(
            course_root / "source" / assignment / f"{name}.ipynb", as_version=4
        )
        rebuilt, notes = rebuild_notebook(
            notebook, release, load_answer_names(source, release)
        )
        report.repairs.extend(notes)
        report.warnings.extend(
            f"suspicious code (graded as usual; check by hand): {finding}"
            for finding in suspicious_lines(rebuilt, release, hidden_test_names(source))
        )
        nbformat.write(rebuilt, target_dir / f"{name}.ipynb")

    other_files = [path.name for path in files if path.suffix.lower() != ".ipynb"]
    if other_files and reports:
        reports[0].warnings.append(
            f"ignored files that are not notebooks: {', '.join(other_files)}"
        )
    unmatched = [note for note in file_notes if "not a notebook of" in note]
    if unmatched and reports:
        reports[0].warnings.extend(unmatched)
    return reports


def take_in(submissions_dir, course_root, assignments):
    """Take in every student's submissions of the given assignments.

    Parameters
    ----------
    submissions_dir : pathlib.Path
        Folder laid out as ``<student>/<assignment>/<any file name>.ipynb``.
        A zip file in it named after an assignment (``week03.zip``) is read
        as that assignment's LMS download (see ``unpack_lms_archive``).
    course_root : pathlib.Path
        The course folder that receives ``submitted/``.
    assignments : list of str
        Assignment ids to take in.

    Returns
    -------
    list of IntakeReport
        Files that an archive could not give are reported under the student
        id ``(archive)``.
    """
    reports = []
    student_names = {}
    with tempfile.TemporaryDirectory() as unpacked:
        folders = [path for path in submissions_dir.iterdir() if path.is_dir()]
        for archive_path in sorted(submissions_dir.glob("*.zip")):
            assignment = notebook_name_from_file(archive_path.stem)
            if assignment not in assignments:
                continue
            destination = Path(unpacked) / archive_path.stem
            skipped = unpack_lms_archive(
                archive_path, assignment, destination, student_names
            )
            folders.extend(path for path in destination.iterdir() if path.is_dir())
            if skipped:
                report = IntakeReport("(archive)", assignment, archive_path.stem)
                report.warnings.extend(skipped)
                reports.append(report)

        for student_dir in sorted(folders, key=lambda path: path.name):
            for assignment in assignments:
                assignment_dir = student_dir / assignment
                if not assignment_dir.is_dir():
                    continue
                student_reports = take_in_student(
                    assignment_dir, student_dir.name, assignment, course_root
                )
                for report in student_reports:
                    report.student_name = student_names.get(student_dir.name, "")
                reports.extend(student_reports)
    return reports


def student_id_from_name(name):
    """Return an nbgrader student id made from an LMS file or folder name.

    LMS downloads start with the student's name, then ``_``, the LMS
    participant number and ``_`` (``"Sato Hana_30002_..."``). The id is
    that number when the second ``_``-separated part is ASCII digits only,
    because names need not be unique. Otherwise the id is the first part
    that contains ASCII letters or digits, in lower case, with runs of other
    characters replaced by ``-`` (``"s1234567_week02.ipynb"`` gives
    ``"s1234567"``).

    Parameters
    ----------
    name : str
        For example ``"Yamada Taro_12345_assignsubmission_file_"``.

    Returns
    -------
    str
        For example ``"12345"``; empty if no part qualifies.
    """
    parts = name.split("_")
    if len(parts) > 1 and re.fullmatch(r"[0-9]+", parts[1].strip()):
        return parts[1].strip()
    for part in parts:
        student = re.sub(r"[^0-9a-z-]+", "-", part.lower()).strip("-")
        if student:
            return student
    return ""


def _lms_participant(name):
    """Return the part of an LMS name that names one participant.

    That is the name and the participant number (``"Sato Hana_30002"``),
    or the name alone where there is no number.
    """
    parts = name.split("_")
    if len(parts) > 1 and re.fullmatch(r"[0-9]+", parts[1].strip()):
        return "_".join(parts[:2])
    return parts[0]


def unpack_lms_archive(archive_path, assignment, destination, student_names=None):
    """Unpack one assignment's LMS zip download as ``<student>/<assignment>/``.

    Two layouts are read: a folder per student
    (``"Yamada Taro_12345_assignsubmission_file_/week02.ipynb"``) and files
    named after the student (``"yamadataro_12345_week02.ipynb"``). Members with
    absolute or ``..`` paths, and members larger than
    ``MAX_ARCHIVE_MEMBER_BYTES``, are skipped and reported.

    Parameters
    ----------
    archive_path : pathlib.Path
        The ``.zip`` file.
    assignment : str
        The assignment that the archive belongs to.
    destination : pathlib.Path
        An empty folder that receives the layout ``take_in`` reads.
    student_names : dict of str to str, optional
        Receives each student id's name as the archive gives it
        (``"20001"`` to ``"Hirano Ken"``).

    Returns
    -------
    list of str
        One line per skipped member.

    Raises
    ------
    IntakeError
        If two participants give the same student id (two students named
        alike without participant numbers), which would merge their work.
    """
    skipped = []
    participants = {}
    with zipfile.ZipFile(archive_path) as archive:
        for member in archive.infolist():
            parts = Path(member.filename).parts
            if member.is_dir() or not parts:
                continue
            if member.filename.startswith("/") or ".." in parts:
                skipped.append(f"skipped '{member.filename}': unsafe path")
                continue
            if member.file_size > MAX_ARCHIVE_MEMBER_BYTES:
                skipped.append(f"skipped '{member.filename}': {member.file_size} bytes")
                continue
            student = student_id_from_name(parts[0])
            if not student:
                skipped.append(f"skipped '{member.filename}': no student name")
                continue
            participant = _lms_participant(parts[0])
            other = participants.setdefault(student, participant)
            if other != participant:
                raise IntakeError(
                    f"'{other}' and '{participant}' in {archive_path.name} both "
                    f"give the student id '{student}'; rename one of them in the "
                    "archive (or download it with participant numbers) and run "
                    "again"
                )
            if student_names is not None:
                student_names[student] = parts[0].split("_")[0].strip()
            target = destination / student / assignment / parts[-1]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(archive.read(member))
    return skipped
