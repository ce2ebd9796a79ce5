"""Draw the figures of the class report (grading.report) as PNG files.

The figures contain counts and rates only, never a student's id or name,
so the instructor's and the anonymous report use the same drawings.
"""

import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402 (the backend is chosen first)
import matplotlib_fontja  # noqa: E402

# IPAexGothic, bundled with matplotlib-fontja, renders the Japanese labels.
matplotlib_fontja.japanize()

BAR_COLOR = "#4878a8"
WARNING_COLOR = "#c8553d"
DPI = 120


def plot_scores(results, path, week_label):
    """Draw one histogram of score percentages per assignment.

    Parameters
    ----------
    results : grading.report.ClassResults
    path : pathlib.Path
        PNG file to write.
    week_label : callable
        Maps an assignment name to its title, e.g. "week02" to "第 2 週".
    """
    assignments = results.assignments or [""]
    columns = min(len(assignments), 4)
    rows = math.ceil(len(assignments) / columns)
    figure, axes = plt.subplots(
        rows, columns, figsize=(3.2 * columns, 2.8 * rows), squeeze=False
    )
    edges = [10 * i for i in range(11)]
    for ax, assignment in zip(axes.flat, assignments, strict=False):
        submissions = results.submissions_of(assignment)
        percents = [
            100 * s.score / s.max_score if s.max_score else 0.0 for s in submissions
        ]
        ax.hist(percents, bins=edges, color=BAR_COLOR, edgecolor="white")
        ax.set_title(f"{week_label(assignment)}（採点 {len(submissions)} 人）")
        ax.set_xlabel("得点（%）")
        ax.set_ylabel("人数")
        ax.set_xlim(0, 100)
        ax.yaxis.get_major_locator().set_params(integer=True)
    for ax in list(axes.flat)[len(assignments) :]:
        ax.set_visible(False)
    figure.suptitle("週ごとの得点分布")
    figure.tight_layout()
    figure.savefig(path, dpi=DPI)
    plt.close(figure)


def plot_pass_rates(rates, path, week_label):
    """Draw the pass rate of every test cell as horizontal bars.

    Bars below 50 % are drawn in a warning color.

    Parameters
    ----------
    rates : list of grading.report.CellPassRate
    path : pathlib.Path
        PNG file to write.
    week_label : callable
        Maps an assignment name to the label in front of the cell name.
    """
    labels = [f"{week_label(r.assignment)}  {r.cell}" for r in rates]
    percents = [100 * r.rate for r in rates]
    colors = [BAR_COLOR if p >= 50 else WARNING_COLOR for p in percents]
    figure, ax = plt.subplots(figsize=(8, 0.8 + 0.3 * max(len(rates), 1)))
    # The first test at the top, as in the notebooks.
    positions = range(len(rates) - 1, -1, -1)
    ax.barh(list(positions), percents, color=colors)
    ax.set_yticks(list(positions), labels, fontsize=8)
    ax.set_xlim(0, 100)
    ax.set_xlabel("合格率（満点だった提出の割合、%）")
    ax.set_title("テストごとの合格率")
    ax.grid(axis="x", alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=DPI)
    plt.close(figure)


def plot_mistakes(found, path, week_label):
    """Draw the number of students who made each known mistake.

    Parameters
    ----------
    found : dict[grading.report.Mistake, list[str]]
        Student ids per mistake.
    path : pathlib.Path
        PNG file to write.
    week_label : callable
        Maps an assignment name to the label in front of the mistake.
    """
    mistakes = list(found)
    labels = [f"{week_label(m.assignment)}: {m.label}" for m in mistakes]
    counts = [len(found[m]) for m in mistakes]
    figure, ax = plt.subplots(figsize=(8, 0.9 + 0.45 * max(len(mistakes), 1)))
    positions = list(range(len(mistakes) - 1, -1, -1))
    bars = ax.barh(positions, counts, color=WARNING_COLOR)
    ax.bar_label(bars, padding=3)
    ax.set_yticks(positions, labels, fontsize=9)
    ax.set_xlim(0, max(counts, default=0) + 1)
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_xlabel("人数")
    ax.set_title("よくある間違いと、その間違いをした人数")
    figure.tight_layout()
    figure.savefig(path, dpi=DPI)
    plt.close(figure)
