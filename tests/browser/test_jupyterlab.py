"""Real-browser test: JupyterLab in headless Chromium runs each notebook and reacts to a slider.

Starts ``jupyter lab`` on 127.0.0.1 (free port, token, temp settings/workspaces) serving a
temporary copy of notebooks/, opens each notebook, runs all cells, waits until every widget has
rendered, then moves a slider with the keyboard and clicks a button and checks that an output
picture changed; where there is one, it also presses Step and Play, clicks on the ipympl contour
plot (02: the start point moves) and moves the two-moons sliders (04: the networks retrain).
JupyterLab dialogs are dismissed before every click. Screenshots go to a temporary directory
whose path is printed.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.browser]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
NOTEBOOK_DIR = Path(__file__).resolve().parents[2] / "notebooks"
NOTEBOOKS = sorted(path.name for path in NOTEBOOK_DIR.glob("*.ipynb"))
RUN_TIMEOUT_MS = 150_000

if not Path(CHROMIUM).exists():
    pytest.skip(f"{CHROMIUM} is absent (apt-get install -y chromium)", allow_module_level=True)
playwright_sync = pytest.importorskip("playwright.sync_api")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A running JupyterLab on a temporary copy of notebooks/: (base_url, token)."""
    root = tmp_path_factory.mktemp("lab")
    shutil.copytree(
        NOTEBOOK_DIR, root / "notebooks", ignore=shutil.ignore_patterns(".ipynb_checkpoints")
    )
    for name in ("settings", "workspaces"):
        (root / name).mkdir()
    # User settings (JUPYTERLAB_SETTINGS_DIR): no autosave, no news/update pop-up over the page.
    for plugin, text in (
        ("docmanager-extension/plugin", '{"autosave": false}'),
        ("apputils-extension/notification", '{"checkForUpdates": false, "fetchNews": "false"}'),
    ):
        path = root / "settings" / "@jupyterlab" / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    port, token = _free_port(), secrets.token_hex(16)
    env = dict(
        os.environ,
        JUPYTERLAB_SETTINGS_DIR=str(root / "settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(root / "workspaces"),
    )
    command = [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        "--no-browser",
        "--allow-root",
        f"--port={port}",
        "--ip=127.0.0.1",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root / 'notebooks'}",
        "--LabApp.news_url=",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    log = open(root / "lab.log", "w")  # noqa: SIM115  (open for the server's whole life)
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        "jupyter lab did not start: " + (root / "lab.log").read_text()[-2000:]
                    )
                time.sleep(0.5)
        yield base, token
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


@pytest.fixture(scope="module")
def browser():
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    with playwright_sync.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1100, "height": 900},
        )  # the window the layout targets
        try:
            yield context
        finally:
            context.close()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def screenshot_dir():
    path = Path(tempfile.mkdtemp(prefix="nastoolkit-screenshots-"))
    print(f"\nscreenshots: {path}")
    return path


def _run_all(page) -> None:
    """Run > Run All Cells, after focusing a cell; retried because a cold start can ignore it."""
    for _ in range(3):
        page.locator(".jp-Notebook .jp-Cell").first.click()
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
        try:
            page.wait_for_function(
                "() => [...document.querySelectorAll('.jp-InputPrompt')]"
                ".some(p => /\\[(\\*|\\d+)\\]/.test(p.textContent))",
                timeout=15_000,
            )
            return
        except playwright_sync.TimeoutError:
            page.keyboard.press("Escape")
            _dismiss_dialogs(page)
    raise AssertionError("Run All Cells did not start any cell")


DONE_JS = (
    "() => { const cells = [...document.querySelectorAll('.jp-Cell.jp-CodeCell')];"
    " const busy = [...document.querySelectorAll('.jp-InputPrompt')]"
    ".some(p => p.textContent.includes('*'));"
    " return cells.length > 0 && !busy && cells.every(c => c.querySelector("
    "'.jp-InputPlaceholder, .jp-Placeholder') || /\\[\\d+\\]/.test("
    "c.querySelector('.jp-InputPrompt')?.textContent ?? '')); }"
)


def _wait_until_done(page) -> None:
    # Every code cell shows [n]; a cell whose source is collapsed (an exercise's solution) shows
    # a placeholder and no prompt, so it counts as done once no cell is still queued ([*]).
    # Polled from Python so that a dialog popping up mid-run (a cold kernel) is dismissed too.
    deadline = time.monotonic() + RUN_TIMEOUT_MS / 1000
    while not page.evaluate(DONE_JS):
        if time.monotonic() > deadline:
            raise AssertionError("the notebook did not finish running")
        _dismiss_dialogs(page)
        page.wait_for_timeout(1000)
    page.wait_for_function(
        "() => !document.body.innerText.includes('Loading widget...')", timeout=30_000
    )


def _wait_for_idle_kernel(page) -> None:
    # A slider press queues redraws; wait until the kernel has handled them all.
    page.wait_for_function(
        "() => /Idle/.test(document.querySelector('.jp-StatusBar-Widget')?.parentElement"
        "?.innerText ?? '')",
        timeout=30_000,
    )


def _dismiss_dialogs(page) -> None:
    """Close any JupyterLab dialog (kernel choice, build notice, ...) that would eat a click."""
    for _ in range(5):
        dialog = page.locator(".jp-Dialog")
        if dialog.count() == 0:
            return
        accept = dialog.locator(".jp-Dialog-button.jp-mod-accept")
        if accept.count():
            accept.first.click()
        else:
            page.keyboard.press("Escape")
        page.wait_for_timeout(300)


def _changes(locator, before: bytes, timeout_s: float = 30.0) -> bytes:
    """Wait until ``locator``'s screenshot differs from ``before`` (img or ipympl canvas)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        shot = locator.screenshot()
        if shot != before:
            return shot
        time.sleep(0.5)
    raise AssertionError("the picture did not change")


def _apps(page):
    return page.locator(
        ".jp-OutputArea-output > .widget-vbox, .jp-OutputArea-output .jupyter-widgets.widget-vbox"
    )


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_and_widgets_react(name, lab, browser, screenshot_dir):
    base, token = lab
    page = browser.new_page()
    try:
        page.goto(f"{base}/lab/tree/{name}?token={token}&reset", timeout=60_000)
        page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
        _dismiss_dialogs(page)
        _run_all(page)
        _dismiss_dialogs(page)
        _wait_until_done(page)
        _dismiss_dialogs(page)
        errors = page.locator(
            ".jp-OutputArea-output[data-mime-type="
            "'application/vnd.jupyter.stderr'] >> text=Traceback"
        )
        assert errors.count() == 0, f"{name}: a cell shows a traceback"
        page.screenshot(path=str(screenshot_dir / f"{name}.png"), full_page=False)
        handles = page.locator(".noUi-handle")
        if handles.count() == 0:
            return  # no slider in this notebook: running cleanly is the whole check
        app = _apps(page).first
        app.scroll_into_view_if_needed()
        before = app.screenshot(path=str(screenshot_dir / f"{name}-app.png"))
        handle = app.locator(".noUi-handle").first
        handle.focus()
        for _ in range(3):
            handle.press("ArrowRight")
        before = _changes(app, before)
        _wait_for_idle_kernel(page)
        step = app.locator(".widget-button", has_text="Step")
        if step.count():
            before = app.screenshot()
            step.first.click()
            before = _changes(app, before)
            _wait_for_idle_kernel(page)
        play = app.locator(".widget-play button")
        if play.count():
            before = app.screenshot()
            play.first.click()  # Play
            before = _changes(app, before)
            play.nth(1).click()  # Pause
            _wait_for_idle_kernel(page)
        canvas = app.locator(".jupyter-matplotlib-canvas-div")
        if name.startswith("02") and canvas.count():
            readouts = app.locator(".widget-readout").all_inner_texts()
            box = canvas.first.bounding_box()
            # Inside the contour panel (left third of the canvas, mid-height).
            canvas.first.click(position={"x": box["width"] * 0.3, "y": box["height"] * 0.55})
            page.wait_for_function(
                "(before) => { const apps = document.querySelectorAll('.jp-OutputArea-output "
                ".widget-vbox'); const now = [...apps[0].querySelectorAll('.widget-readout')]"
                ".map(r => r.innerText); return now.join('|') !== before.join('|'); }",
                arg=readouts,
                timeout=30_000,
            )
            _wait_for_idle_kernel(page)
        if name.startswith("04"):
            moons = _apps(page).filter(has_text="L2 strength").first
            moons.scroll_into_view_if_needed()
            before = moons.screenshot(path=str(screenshot_dir / f"{name}-moons.png"))
            moons_handle = moons.locator(".noUi-handle").first
            moons_handle.focus()
            moons_handle.press("ArrowRight")
            _changes(moons, before, timeout_s=60.0)
            _wait_for_idle_kernel(page)
        page.screenshot(path=str(screenshot_dir / f"{name}-after.png"), full_page=False)
    finally:
        page.close()
