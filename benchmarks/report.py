"""Results of a benchmark part and their layout as text or Markdown tables."""

from dataclasses import dataclass, field


@dataclass
class Row:
    """One measured figure and its ratio to a reference figure.

    Attributes
    ----------
    name : str
        What was measured.
    seconds : float
        Median seconds per call.
    reference : str
        Name of the row that ``ratio`` compares with, or "" for none.
    ratio : float or None
        ``seconds`` divided by the reference's seconds.
    note : str
        A short remark, for example the speed-up over the loop.
    """

    name: str
    seconds: float
    reference: str = ""
    ratio: float | None = None
    note: str = ""


@dataclass
class Target:
    """A required ratio and the measured one.

    Attributes
    ----------
    description : str
        The requirement in words, for example "batches of 100 vs the loop".
    measured : float
        The measured ratio.
    limit : float
        The required minimum (``at_least=True``) or maximum.
    at_least : bool
        Whether ``measured`` must reach ``limit`` or stay within it.
    """

    description: str
    measured: float
    limit: float
    at_least: bool

    @property
    def met(self):
        """Whether the measured ratio satisfies the limit."""
        if self.at_least:
            return self.measured >= self.limit
        return self.measured <= self.limit

    def describe(self):
        """Return one line: the requirement, the measured ratio and the verdict."""
        relation = ">=" if self.at_least else "<="
        verdict = "met" if self.met else "MISSED"
        return (
            f"{self.description}: {self.measured:.2f}x "
            f"(target {relation} {self.limit:g}x) {verdict}"
        )


@dataclass
class PartResult:
    """All figures of one benchmark part.

    Attributes
    ----------
    key : str
        Short name of the part, as given to ``--parts``.
    title : str
        Heading of the part's table.
    rows : list of Row
        The figures, in the order printed.
    targets : list of Target
        The targets that the part checks.
    findings : list of str
        Lines that explain the figures, for example where the time goes.
    series : dict
        Extra figures for plots, by name.
    """

    key: str
    title: str
    rows: list = field(default_factory=list)
    targets: list = field(default_factory=list)
    findings: list = field(default_factory=list)
    series: dict = field(default_factory=dict)

    def row(self, name):
        """Return the row called ``name``."""
        for row in self.rows:
            if row.name == name:
                return row
        raise KeyError(f"no row named {name!r} in part {self.key!r}")


def format_seconds(seconds):
    """Format a duration with a unit that keeps three significant digits."""
    if seconds >= 1:
        return f"{seconds:.3g} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds * 1e6:.3g} µs"


def _cells(row):
    ratio = "" if row.ratio is None else f"{row.ratio:.2f}x"
    return [row.name, format_seconds(row.seconds), ratio, row.reference, row.note]


HEADER = ["measurement", "median", "ratio", "compared with", "note"]


def format_text(part):
    """Lay out a part as a plain-text table followed by its targets and findings."""
    table = [HEADER] + [_cells(row) for row in part.rows]
    widths = [max(len(line[column]) for line in table) for column in range(5)]
    lines = [part.title, "-" * len(part.title)]
    for index, cells in enumerate(table):
        padded = [cell.ljust(width) for cell, width in zip(cells, widths, strict=True)]
        # Right-align the numbers so that their units line up.
        padded[1] = cells[1].rjust(widths[1])
        padded[2] = cells[2].rjust(widths[2])
        lines.append("  ".join(padded).rstrip())
        if index == 0:
            lines.append("  ".join("-" * width for width in widths))
    lines.extend(f"target: {target.describe()}" for target in part.targets)
    lines.extend(f"- {finding}" for finding in part.findings)
    return "\n".join(lines)


def format_markdown(part):
    """Lay out a part as a Markdown table followed by its targets and findings."""
    lines = [f"### {part.title}", ""]
    lines.append("| " + " | ".join(HEADER) + " |")
    lines.append("|---|---:|---:|---|---|")
    for row in part.rows:
        lines.append("| " + " | ".join(_cells(row)) + " |")
    lines.append("")
    lines.extend(f"- Target: {target.describe()}" for target in part.targets)
    lines.extend(f"- {finding}" for finding in part.findings)
    return "\n".join(lines)
