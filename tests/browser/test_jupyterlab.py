"""Real-browser test: JupyterLab in headless Chromium runs each notebook and reacts to a slider.

Starts ``jupyter lab`` on 127.0.0.1 (free port, token, temp settings/workspaces) serving a
temporary copy of notebooks/, opens each notebook (every notebooks/*.ipynb, so a new tutorial is
covered by adding its file), runs all cells, waits until every widget has rendered, then moves a
slider with the keyboard and checks that the app's picture changed; where there is one, it also
presses Step and Play, clicks on the ipympl contour plot (02: the start point moves and the
start sliders follow; 03: every optimizer restarts there) and moves the two-moons sliders (04:
the networks retrain), each time checking that the picture changed. JupyterLab dialogs are
dismissed before every click. A screenshot of each notebook after its run, and of its app
before and after each interaction, goes to ``$NASTOOLKIT_SCREENSHOTS`` (default: a temporary
directory; the path is printed).
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
    folder = os.environ.get("NASTOOLKIT_SCREENSHOTS")
    path = Path(folder) if folder else Path(tempfile.mkdtemp(prefix="nastoolkit-screenshots-"))
    path.mkdir(parents=True, exist_ok=True)
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


def _changes(locator, before: bytes, timeout_s: float = 30.0, shot: Path | None = None) -> bytes:
    """Wait until ``locator``'s screenshot differs from ``before`` (img or ipympl canvas); the
    changed picture is saved to ``shot`` when given."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        picture = locator.screenshot()
        if picture != before:
            if shot is not None:
                shot.write_bytes(picture)
            return picture
        time.sleep(0.5)
    raise AssertionError("the picture did not change")


def _apps(page):
    """Each output that holds a widget app, in page order. The output, not the app's own VBox:
    an ipympl figure is a ``.widget-vbox`` too, and a lazily resolved ``.first`` of the VBoxes
    once picked the canvas alone."""
    return page.locator(".jp-OutputArea-output").filter(has=page.locator(".widget-vbox"))


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
        app.screenshot(path=str(screenshot_dir / f"{name}-app.png"))
        handle = app.locator(".noUi-handle").first

        def press_right_three_times():
            handle.focus()
            for _ in range(3):
                handle.press("ArrowRight")

        # An ipympl app must also redraw its canvas, not only the numbers around it.
        canvas = app.locator(".jupyter-matplotlib-canvas-div")
        canvas = canvas.first if canvas.count() else None
        shots = {kind: screenshot_dir / f"{name}-{kind}.png" for kind in ("slider", "step", "play")}
        _reacts(page, app, press_right_three_times, shots["slider"], canvas=canvas)
        step = app.locator(".widget-button", has_text="Step")
        if step.count():
            _reacts(page, app, step.first.click, shots["step"], canvas=canvas)
        play = app.locator(".widget-play button")
        if play.count():
            _reacts(page, app, play.first.click, shots["play"], canvas=canvas)
            play.nth(1).click()  # Stop (ipywidgets 8: play/pause, stop, repeat)
        if canvas is not None:
            _click_the_contour_plot(page, app, canvas, screenshot_dir / f"{name}-click.png")
        # 04's two-moons app (its first slider is the L2 strength; the polynomial app above it
        # also has an "L2 strength" slider, so the width slider's label picks it out).
        moons = _apps(page).filter(has_text="units per layer")
        if moons.count():
            moons = moons.first
            moons.scroll_into_view_if_needed()
            moons.screenshot(path=str(screenshot_dir / f"{name}-moons.png"))
            moons_handle = moons.locator(".noUi-handle").first

            def press_right_once():
                moons_handle.focus()
                moons_handle.press("ArrowRight")

            _reacts(page, moons, press_right_once, screenshot_dir / f"{name}-moons-after.png")
        _settled(page, page.locator(".jp-Notebook"))
        page.screenshot(path=str(screenshot_dir / f"{name}-after.png"), full_page=False)
    finally:
        page.close()


def _settled(page, locator, timeout_s: float = 60.0) -> bytes:
    """Wait until the kernel is idle and ``locator``'s picture and text have held still for a
    second (an earlier action's redraw can still be on its way); returns the picture."""
    deadline = time.monotonic() + timeout_s
    _wait_for_idle_kernel(page)
    picture, text = locator.screenshot(), locator.inner_text()
    while True:
        page.wait_for_timeout(1000)
        now, now_text = locator.screenshot(), locator.inner_text()
        if now == picture and now_text == text:
            return picture
        if time.monotonic() > deadline:
            raise AssertionError("the app kept changing with nothing pressed")
        _wait_for_idle_kernel(page)
        picture, text = now, now_text


# The pixels an ipympl figure shows: its first <canvas> (the one above it draws the zoom box).
CANVAS_PIXELS_JS = "div => div.querySelector('canvas').toDataURL()"


def _reacts(page, locator, action, shot: Path, text_too: bool = False, canvas=None) -> None:
    """From a settled ``locator``, ``action()`` must change its picture (saved to ``shot``),
    with ``text_too`` its text, and with ``canvas`` (an ipympl canvas div inside it) the
    pixels drawn on that canvas (a screenshot would also change with its focus outline)."""
    _settled(page, locator)
    text = locator.inner_text()
    pixels = canvas.evaluate(CANVAS_PIXELS_JS) if canvas is not None else None
    before = locator.screenshot()
    action()
    if canvas is not None:  # it redraws after the text around it has changed
        deadline = time.monotonic() + 60
        while canvas.evaluate(CANVAS_PIXELS_JS) == pixels:
            assert time.monotonic() < deadline, "the canvas did not redraw"
            page.wait_for_timeout(500)
    _changes(locator, before, timeout_s=60.0, shot=shot)
    if text_too:
        deadline = time.monotonic() + 30
        while locator.inner_text() == text:
            assert time.monotonic() < deadline, "the app's text did not change"
            page.wait_for_timeout(500)


def _click_the_contour_plot(page, app, canvas, shot: Path) -> None:
    """Click inside the left (contour) panel of ``app``'s ipympl canvas: the start point moves
    there, so the picture and the numbers change (02: the start sliders' readouts; 03: the
    leaderboard's losses)."""
    readouts = app.locator(".widget-readout").all_inner_texts()
    canvas.scroll_into_view_if_needed()

    def click_left_third():
        box = canvas.bounding_box()
        # Left third of the canvas, mid-height: inside the contour panel of 02 and 03's race.
        canvas.click(position={"x": box["width"] * 0.3, "y": box["height"] * 0.55})

    _reacts(page, app, click_left_third, shot, text_too=True, canvas=canvas)
    if "start θ" in app.inner_text():  # 02's start sliders follow the click
        assert app.locator(".widget-readout").all_inner_texts() != readouts
