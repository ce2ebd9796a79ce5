"""Keep hidden tests out of the feedback that students receive.

nbgrader's feedback is the autograded notebook as HTML, so it shows the
code of the hidden tests (the ``### BEGIN HIDDEN TESTS`` regions) and the
tracebacks that quote their lines. With :class:`HideHiddenTests` among the
feedback preprocessors, students see their score, which test cells failed
and each failure's message, but no hidden test code. It changes only the
copy that is turned into HTML: the autograded notebooks in ``autograded/``
keep everything for the instructor.

In ``nbgrader_config.py``::

    from grading.sandbox_feedback import feedback_preprocessors
    c.GenerateFeedback.preprocessors = feedback_preprocessors()
"""

from nbgrader import utils
from nbgrader.converters.generate_feedback import GenerateFeedback
from nbgrader.preprocessors import ClearHiddenTests
from traitlets import Unicode

# Shown where the hidden tests were, and under a failure that has no message.
HIDDEN_TESTS_NOTE = "# ここには非公開のテストがあります（内容は表示しません）。"
NO_MESSAGE_NOTE = "（このテストはメッセージを出さずに失敗しました。）"


class HideHiddenTests(ClearHiddenTests):
    """Replace hidden test code and its tracebacks in autograder test cells.

    In a test cell with a hidden region, the region's lines become one
    comment and each error output keeps only its exception name and
    message, because IPython's traceback quotes the failing hidden line.
    """

    placeholder = Unicode(
        HIDDEN_TESTS_NOTE,
        help="The line that replaces each hidden test region in feedback.",
    ).tag(config=True)

    def _remove_hidden_test_region(self, cell):
        lines = cell.source.split("\n")
        visible_lines = []
        in_region = False
        for line in lines:
            if self.begin_test_delimeter in line:
                in_region = True
                indent = line[: len(line) - len(line.lstrip())]
                visible_lines.append(indent + self.placeholder)
            elif self.end_test_delimeter in line:
                in_region = False
            elif not in_region:
                visible_lines.append(line)
        cell.source = "\n".join(visible_lines)
        # A region without its end marker is hidden up to the end of the cell.
        return any(self.begin_test_delimeter in line for line in lines)

    def preprocess_cell(self, cell, resources, cell_index):
        if cell.cell_type != "code" or not utils.is_grade(cell):
            return cell, resources
        if utils.is_solution(cell):
            return cell, resources
        if self._remove_hidden_test_region(cell):
            for output in cell.get("outputs", []):
                if output.output_type == "error":
                    output.traceback = [short_error(output.ename, output.evalue)]
        return cell, resources


def short_error(name, message):
    """Return a one-line error report: the exception's name and message."""
    if message:
        return f"{name}: {message}"
    return f"{name}: {NO_MESSAGE_NOTE}"


def feedback_preprocessors():
    """Return nbgrader's feedback preprocessors with hidden tests removed.

    Returns
    -------
    list
        :class:`HideHiddenTests` followed by the default of
        ``GenerateFeedback.preprocessors`` in the installed nbgrader.
    """
    defaults = GenerateFeedback.class_traits()["preprocessors"].default()
    return [HideHiddenTests, *defaults]
