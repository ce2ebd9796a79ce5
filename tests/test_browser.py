"""End-to-end tests of nbgrader's JupyterLab extension in headless Chromium.

A real ``jupyter lab`` serves a copy of the course in which the demo class
has been graded. Playwright drives the Debian package's Chromium through
what students and instructors do: fetch a released week from the
Assignment List, run it, press Validate (in JupyterLab and in Notebook 7),
and open the formgrader's grades. Each test saves a screenshot to
``build/screenshots/`` for a person to look at.
"""

import os
import re
import subprocess
from pathlib import Path

import nbformat
import pytest
from browser_helpers import (
    CHROMIUM,
    JupyterServer,
    isolated_jupyter_env,
    launch_chromium,
)
from conftest import PROJECT_ROOT
from demo_helpers import graded_demo_course
from playwright.sync_api import expect, sync_playwright

pytestmark = pytest.mark.slow

SCREENSHOT_DIR = PROJECT_ROOT / "build" / "screenshots"

# Upper bound in milliseconds for one step in the browser (a page load, a
# notebook run, a validation), so that a broken page fails instead of hanging.
STEP_TIMEOUT_MS = 90_000
expect.set_options(timeout=STEP_TIMEOUT_MS)

ASSIGNMENT = "week01"


@pytest.fixture(scope="module")
def chromium_path():
    if not CHROMIUM.is_file():
        message = f"{CHROMIUM} not found; install the Debian package chromium"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return CHROMIUM


@pytest.fixture(scope="module")
def course(tmp_path_factory, real_data_dir):
    """The graded demo course, with week 1 also released to an exchange.

    Returns the course root and the environment for Jupyter and nbgrader.
    """
    course_root = graded_demo_course(tmp_path_factory, real_data_dir)
    home = tmp_path_factory.mktemp("jupyter-home")
    env = isolated_jupyter_env(home)
    env["COURSE_DATA_DIR"] = str(real_data_dir)
    exchange = home / "exchange"
    exchange.mkdir()
    # The exchange is where nbgrader's Assignment List finds released weeks.
    (home / "config" / "nbgrader_config.py").write_text(
        f"c = get_config()\nc.Exchange.root = {str(exchange)!r}\n", encoding="utf-8"
    )
    subprocess.run(
        ["nbgrader", "release_assignment", ASSIGNMENT],
        cwd=course_root,
        env=env,
        check=True,
        capture_output=True,
        timeout=240,
    )
    return course_root, env


@pytest.fixture(scope="module")
def server(course, tmp_path_factory):
    course_root, env = course
    log_path = tmp_path_factory.mktemp("logs") / "jupyter-lab.log"
    with JupyterServer(course_root, env, log_path) as running:
        yield running


@pytest.fixture(scope="module")
def browser(chromium_path, server):
    with sync_playwright() as playwright:
        context = launch_chromium(playwright)
        context.set_default_timeout(STEP_TIMEOUT_MS)
        yield context
        context.close()


@pytest.fixture
def page(browser):
    opened = browser.new_page()
    yield opened
    opened.close()


def screenshot(page, name):
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOT_DIR / f"{name}.png")


def student_copy(course_root, name, notebook):
    """Write ``notebook`` to ``student/<name>.ipynb``; return its path in the server."""
    target = course_root / "student" / f"{name}.ipynb"
    target.parent.mkdir(exist_ok=True)
    nbformat.write(notebook, target)
    return target.relative_to(course_root).as_posix()


def released_notebook(course_root):
    return nbformat.read(
        course_root / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4
    )


def finished_but_one(course_root):
    """Return aoki's finished week 1 with one answer cell reset to its stub.

    Returns
    -------
    tuple of (nbformat.NotebookNode, str)
        The notebook and the removed answer (the source of the
        ``identity_function`` cell), for the test to type back in.
    """
    folder = course_root / "demo" / "submissions" / "aoki" / ASSIGNMENT
    notebook = nbformat.read(folder / f"{ASSIGNMENT}.ipynb", as_version=4)
    stub = answer_cell(released_notebook(course_root)).source
    cell = answer_cell(notebook)
    answer, cell.source = cell.source, stub
    return notebook, answer


def answer_cell(notebook):
    return next(
        cell
        for cell in notebook.cells
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "identity_function"
    )


def open_lab(page, server, workspace, path=""):
    """Open JupyterLab in a new, empty workspace, with ``path`` if given.

    Each test has its own workspace, so tabs that an earlier test left open
    are not restored into its page.
    """
    tree = f"/tree/{path}" if path else ""
    page.goto(server.url(f"/lab/workspaces/{workspace}{tree}?reset"))


def open_notebook(page, server, path):
    """Open a notebook in JupyterLab and wait until its kernel is idle."""
    open_lab(page, server, Path(path).stem, path)
    page.locator(".jp-NotebookPanel .jp-Cell").first.wait_for()
    expect(page.locator("#jp-main-statusbar")).to_contain_text("| Idle")


def run_all_cells(page):
    """Run every cell from the menu and wait until the kernel has stopped.

    As in Jupyter, the run stops at the first cell that raises an error, so
    the cells below it keep an empty prompt.
    """
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
    prompts = page.locator(".jp-NotebookPanel .jp-CodeCell .jp-InputPrompt")
    expect(prompts.first).to_have_text(re.compile(r"\[\d+\]"))
    expect(prompts.filter(has_text="[*]")).to_have_count(0)


def validate(page):
    """Press Validate, which saves the notebook first; return the result dialog."""
    page.get_by_role("button", name="Validate").click()
    dialog = page.locator(".jp-Dialog")
    dialog.wait_for()
    return dialog


def test_assignment_list_fetch(page, server):
    open_lab(page, server, "assignment-list")
    page.get_by_role("menuitem", name="Nbgrader", exact=True).click()
    page.get_by_role("menuitem", name="Assignment List", exact=True).click()
    released = page.locator("#released_assignments_list")
    expect(released).to_contain_text(ASSIGNMENT)
    screenshot(page, "01_assignment_list_released")
    released.get_by_role("button", name="Fetch").click()
    fetched = page.locator("#fetched_assignments_list")
    expect(fetched).to_contain_text(ASSIGNMENT)
    screenshot(page, "02_assignment_list_fetched")


def test_validate_unfinished_notebook(page, server, course):
    course_root, _ = course
    path = student_copy(course_root, "unfinished", released_notebook(course_root))
    open_notebook(page, server, path)
    run_all_cells(page)
    dialog = validate(page)
    expect(dialog).to_contain_text("NotImplementedError")
    screenshot(page, "03_validate_unfinished")


def test_validate_finished_notebook(page, server, course):
    course_root, _ = course
    notebook, answer = finished_but_one(course_root)
    path = student_copy(course_root, "finished", notebook)
    open_notebook(page, server, path)
    stub = page.locator(".jp-NotebookPanel .jp-Cell", has_text="def identity_function")
    stub.locator(".cm-content").click()
    page.keyboard.press("Control+a")
    # insert_text types no keys, so the editor adds no indentation of its own.
    page.keyboard.insert_text(answer)
    run_all_cells(page)
    dialog = validate(page)
    expect(dialog).to_contain_text("Success")
    screenshot(page, "04_validate_finished")


def test_notebook7_validate(page, server, course):
    course_root, _ = course
    path = student_copy(course_root, "notebook7", released_notebook(course_root))
    page.goto(server.url(f"/notebooks/{path}"))
    expect(page.locator("body")).to_contain_text("Idle")
    dialog = validate(page)
    expect(dialog).to_contain_text("NotImplementedError")
    screenshot(page, "05_notebook7_validate")


def test_formgrader_students(page, server):
    page.goto(server.url("/formgrader/manage_students"))
    table = page.locator("table")
    expect(table.locator("tr", has_text="aoki")).to_contain_text("37 / 37")
    expect(table.locator("tr", has_text="chiba")).to_contain_text("15 / 37")
    expect(table.locator("tr", has_text="doi")).to_contain_text("0 / 37")
    screenshot(page, "06_formgrader_students")


def test_formgrader_week_scores(page, server):
    page.goto(server.url("/formgrader/gradebook/week02/week02"))
    # The formgrader hides student ids on this page until asked to show them.
    page.get_by_role("button", name="Show All Names").click()
    table = page.locator("table")
    expect(table.locator("tr", has_text="baba")).to_contain_text("2 / 10")
    expect(table.locator("tr", has_text="chiba")).to_contain_text("7 / 10")
    screenshot(page, "07_formgrader_week02")
