"""The lever explorer in a real browser: Playwright drives Debian's Chromium.

The test starts `adoptsim explore` itself, moves the generative-AI speed slider with the keyboard,
waits for the redraw and checks that the plotted 2028-12 value of "your choice" changed (the
screenshot in docs/img/explorer.png is made the same way by docs/gen_explorer_screenshot.py).
Without Chromium the test is skipped with one line naming the install command, unless
ADOPTSIM_REQUIRE_BROWSER=1 (set by `.ci/run`, which installs Chromium): then its absence is a
failure, so CI cannot pass by silently skipping the browser.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from adoptsim.explorer import CHROMIUM_ARGS, SLIDERS, explore_run, overrides, slider_default
from adoptsim.scenario import load_scenario

CHROMIUM = os.environ.get("ADOPTSIM_CHROMIUM", "/usr/bin/chromium")
REQUIRE_BROWSER = os.environ.get("ADOPTSIM_REQUIRE_BROWSER", "") not in ("", "0")
ARGS = list(CHROMIUM_ARGS)
# The last plotted median (2028-12) of "your choice", read from the chart's own data source.
LAST = """(() => { try {
  for (const doc of Bokeh.documents) {
    const m = doc.get_model_by_name('projection');
    if (m && m.data.median.length) return m.data.median[m.data.median.length - 1];
  }
} catch (e) {} return null; })()"""


def test_sliders_start_at_the_scenario_and_change_only_from_2027():
    sc = load_scenario("baseline")
    values = {s.name: slider_default(sc, s) for s in SLIDERS}
    assert overrides(sc, values) == {}
    changed = overrides(sc, {**values, "rate_small": 0.6})
    assert changed == {"levers.kmo_portefeuille.rate_small": {"2027-01": 0.6}}
    # The three 2027 levers at their most generous together: one lever's effect at a few
    # thousand firms can be below one firm's decision (docs/calibration.md), their sum is not.
    most = {n: next(s.hi for s in SLIDERS if s.name == n) for n in ("training_reach",)}
    generous = {**values, "rate_small": 0.6, "coaching_reach": 0.3, **most}
    comp = explore_run(generous, n_firms=2_000, replications=2)
    d = comp.differences.query("segment_type == 'all'").groupby("date").adopters_share.mean()
    assert d[d.index < "2027-01"].abs().max() == 0.0  # nothing changes before the levers do
    assert d[d.index >= "2027-01"].mean() > 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    port = _free_port()
    exe = Path(sys.executable).with_name("adoptsim")
    cmd = [str(exe), "explore", "--port", str(port), "--firms", "1000", "--replications", "2"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if proc.poll() is not None:
                pytest.fail(f"adoptsim explore exited: {proc.stdout.read()[-2000:]}")
            time.sleep(0.5)
        else:
            pytest.fail("adoptsim explore did not listen within 120 s")
        yield f"http://127.0.0.1:{port}/"
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def _missing_browser() -> str | None:
    """Why the browser test cannot run here (None when Chromium is present)."""
    if Path(CHROMIUM).is_file() or shutil.which(CHROMIUM):
        return None
    return (
        f"no Chromium at {CHROMIUM}: the explorer's browser test needs it "
        "(Debian/Ubuntu: apt-get install -y chromium; or set ADOPTSIM_CHROMIUM to its path)"
    )


@pytest.fixture(scope="module")
def browser_path() -> str | None:
    # Skipped before the server starts; where CI requires a browser the test itself fails.
    missing = _missing_browser()
    if missing and not REQUIRE_BROWSER:
        pytest.skip(missing)
    return None if missing else CHROMIUM


def test_moving_a_slider_changes_the_plotted_2028_value(browser_path, server, tmp_path):
    if browser_path is None:
        pytest.fail(f"{_missing_browser()} [ADOPTSIM_REQUIRE_BROWSER is set]")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=browser_path, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            page.goto(server, timeout=120_000)
            page.wait_for_function(
                f"typeof Bokeh !== 'undefined' && {LAST} !== null", timeout=120_000
            )
            before = page.evaluate(LAST)
            handle = page.locator(".slider-genai_drift .noUi-handle").first
            handle.focus()
            for _ in range(10):  # capability drift after the data: +0.10 a year (steps 0.01)
                handle.press("ArrowRight")
            page.wait_for_function(f"{LAST} !== {before}", timeout=180_000)
            # Panel renders into shadow roots: Playwright's text locator pierces them
            page.get_by_text("ready", exact=True).wait_for(timeout=180_000)
            after = page.evaluate(LAST)
            page.screenshot(path=str(tmp_path / "explorer.png"), full_page=True)
        finally:
            browser.close()
    assert after > before, (before, after)  # capability rising after the data raises adoption


def test_only_requests_for_this_machine_are_answered(server):
    import urllib.error
    import urllib.request

    port = server.rsplit(":", 1)[1].strip("/")
    with urllib.request.urlopen(server, timeout=120) as page:
        assert page.status == 200
    rebound = urllib.request.Request(server, headers={"Host": f"evil.example:{port}"})
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(rebound, timeout=30)
    assert info.value.code == 403
    assert b"answers only http://127.0.0.1" in info.value.read()
