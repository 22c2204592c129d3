"""Screenshot of the lever explorer → docs/img/explorer.png (needs Chromium, like the test).

    python docs/gen_explorer_screenshot.py

Starts `adoptsim explore` (3,000 agents, 6 paired replications), raises the generative-AI
capability drift after the data by +0.10 a year, waits for the redraw, and saves a
screenshot. The browser test (tests/test_explorer.py) drives the app the same way.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from adoptsim.explorer import CHROMIUM_ARGS

OUT = Path(__file__).resolve().parent / "img" / "explorer.png"
CHROMIUM = "/usr/bin/chromium"
ARGS = list(CHROMIUM_ARGS)
# The last plotted median (2028-12) of "your choice", read from the chart's data source.
LAST = """(() => { try {
  for (const doc of Bokeh.documents) {
    const m = doc.get_model_by_name('projection');
    if (m && m.data.median.length) return m.data.median[m.data.median.length - 1];
  }
} catch (e) {} return null; })()"""


def main() -> None:
    from playwright.sync_api import sync_playwright

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    exe = Path(sys.executable).with_name("adoptsim")
    cmd = [str(exe), "explore", "--port", str(port), "--firms", "3000", "--replications", "6"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(240):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.5)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"http://127.0.0.1:{port}/", timeout=300_000)
            page.get_by_text("ready", exact=True).wait_for(timeout=300_000)
            page.wait_for_function(f"typeof Bokeh !== 'undefined' && {LAST} !== null")
            before = page.evaluate(LAST)
            handle = page.locator(".slider-genai_drift .noUi-handle").first
            handle.focus()
            for _ in range(10):  # capability drift after the data: +0.10 a year
                handle.press("ArrowRight")
            # The app redraws after a pause in the slider's moves; the status may never show
            # "simulating…" (Panel can send both status changes at once): wait for the plotted
            # value to change, as the browser test does, then for "ready".
            page.wait_for_function(f"{LAST} !== {before}", timeout=600_000)
            page.get_by_text("ready", exact=True).wait_for(timeout=600_000)
            page.wait_for_timeout(1000)
            page.screenshot(path=str(OUT), full_page=True)
            browser.close()
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(20)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
