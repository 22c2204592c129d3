"""Every Python and shell block of README.md and docs/*.md runs, as a reader would paste it.

A small collector (no plugin): each ```python block runs as a script of its own (``python
snippet.py``, so a block that starts worker processes needs the ``if __name__ == "__main__":``
guard it shows), each ```bash block runs in bash with ``set -e``, both in a scratch folder that
holds a copy of ``scenarios/`` (paths like ``scenarios/sweeps/example_sweep.toml`` work) and an
empty ``docs/img``. A python block preceded by ``<!-- doc-test: continue -->`` runs after the
previous python block of its page, in the same script (it uses that block's variables).

Sizes are made small before running, the same way for every block (`small`): agents 300,
replications 2, fewer samples, a short calibration; the sweep specs of the copy get the same
sizes. What the block does, its commands, flags, names and imports, is run as written.

A block preceded by ``<!-- doc-test: skip — REASON -->`` is reported as skipped with its reason:
installing a fresh environment (what ``.ci/run`` itself does with these very commands), a
server that runs until stopped (the explorer's own browser test drives it), a cluster, or a
benchmark or recalibration that takes minutes to hours (``.ci/run`` runs the quick benchmarks).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(
    r"^(?P<indent> *)```(?P<lang>python|bash)\n(?P<body>.*?)^(?P=indent)```", re.M | re.S
)
MARK = re.compile(r"<!-- doc-test: (?P<what>skip|continue)(?: — (?P<why>.+?))? -->\s*$")
FIRMS, REPLICATIONS = 200, 3


def _blocks():
    """(page, line, lang, code, skip reason or None), python continuations merged."""
    out = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        last_python = None
        for m in FENCE.finditer(text):
            before = text[: m.start()].rstrip("\n").splitlines()
            mark = MARK.search(before[-1]) if before else None
            line = text[: m.start()].count("\n") + 1
            indent = len(m.group("indent"))
            code = "\n".join(x[indent:] for x in m.group("body").splitlines()) + "\n"
            if mark and mark.group("what") == "continue":
                assert m.group("lang") == "python" and last_python is not None, (page, line)
                name, first, lang, prev, skip = out[last_python]
                out[last_python] = (name, first, lang, prev + code, skip)
                continue
            skip = mark.group("why") if mark and mark.group("what") == "skip" else None
            if mark and mark.group("what") == "skip":
                assert skip, f"{page.name}:{line}: a skipped block must say why"
            out.append((page.relative_to(ROOT).as_posix(), line, m.group("lang"), code, skip))
            if m.group("lang") == "python":
                last_python = len(out) - 1
    return out


BLOCKS = _blocks()


def small(code: str) -> str:
    """The block with small sizes (agents, replications, samples, calibration effort)."""
    subs = [
        (r"--firms[ =]\d[\d_,]*", f"--firms {FIRMS}"),
        (r"--replications[ =]\d+", f"--replications {REPLICATIONS}"),
        (r"\bn_firms=\d[\d_]*", f"n_firms={FIRMS}"),
        (r"\breplications=\d+", f"replications={REPLICATIONS}"),
        (r"--samples[ =]\d+", "--samples 4"),
        (r"--budget[ =]\d+", "--budget 12"),
        (r"--rounds[ =]\d+", "--rounds 1"),
        (r"--mcmc-steps[ =]\d+", "--mcmc-steps 20"),
        (r"\bn_workers=\d+", "n_workers=2"),
        (r"--workers[ =]\d+", "--workers 2"),
        (r"(?<![\w.])/tmp/", "tmp/"),  # outputs stay in the block's folder, not a shared /tmp
    ]
    for pattern, repl in subs:
        code = re.sub(pattern, repl, code)
    lines = []
    for line in code.splitlines():
        cmd = line.split("#")[0]
        for verb in ("run", "compare", "calibrate", "backtest", "validate", "sensitivity"):
            if re.search(rf"\badoptsim(\.cli)? {verb}\b", cmd):
                extra = ""
                if "--firms" not in cmd:
                    extra += f" --firms {FIRMS}"
                if verb != "sensitivity" and "--replications" not in cmd:
                    extra += f" --replications {REPLICATIONS}"
                if verb in ("calibrate", "backtest"):
                    extra += "" if "--budget" in cmd else " --budget 12"
                    extra += "" if "--mcmc-steps" in cmd else " --mcmc-steps 20"
                    extra += " --rounds 1" if verb == "calibrate" and "--rounds" not in cmd else ""
                if verb == "sensitivity" and "--samples" not in cmd:
                    extra += " --samples 4"
                line = (
                    cmd.rstrip() + extra + (("  #" + line.split("#", 1)[1]) if "#" in line else "")
                )
        lines.append(line)
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    """A folder like the checkout for what blocks read: scenarios (small sweeps), docs/img."""
    root = tmp_path_factory.mktemp("docs")
    shutil.copytree(ROOT / "scenarios", root / "scenarios")
    for spec in (root / "scenarios" / "sweeps").glob("*.toml"):
        text = spec.read_text(encoding="utf-8")
        text = re.sub(r"(?m)^n_firms\s*=\s*\d+", f"n_firms = {FIRMS}", text)
        text = re.sub(r"(?m)^replications\s*=\s*\d+", f"replications = {REPLICATIONS}", text)
        spec.write_text(text, encoding="utf-8")
    (root / "docs" / "img").mkdir(parents=True)
    # scenario files the pages define: a ```toml block whose first line names the file
    for page in PAGES:
        for m in re.finditer(
            r"^ *```toml\n(.*?)^ *```", page.read_text(encoding="utf-8"), re.M | re.S
        ):
            first = m.group(1).splitlines()[0]
            named = re.match(r"#\s*(\S+\.toml)\b", first.strip())
            if named:
                (root / named.group(1)).write_text(m.group(1), encoding="utf-8")
    return root


def _env() -> dict:
    env = dict(os.environ)
    bin_dir = str(Path(sys.executable).parent)
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")  # adoptsim, python of this venv
    env["MPLBACKEND"] = "Agg"
    return env


@pytest.mark.slow
@pytest.mark.parametrize(
    ("page", "line", "lang", "code", "skip"),
    BLOCKS,
    ids=[f"{p}:{n}" for p, n, *_ in BLOCKS],
)
def test_documented_block_runs(page, line, lang, code, skip, scratch, tmp_path):
    if skip:
        pytest.skip(f"{page}:{line}: {skip}")
    run_dir = tmp_path / "work"
    shutil.copytree(scratch, run_dir)
    script = small(code)
    if lang == "python":
        path = run_dir / "snippet.py"
        path.write_text(script, encoding="utf-8")
        cmd = [sys.executable, str(path)]
    else:
        # python3/python are this venv's: its bin folder comes first on PATH (_env), as after
        # activating the venv
        script = "set -e\n" + script
        cmd = ["bash", "-c", script]
    done = subprocess.run(cmd, cwd=run_dir, env=_env(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, (
        f"{page}:{line} ({lang}) failed with exit {done.returncode}:\n{script}\n"
        f"--- stdout\n{done.stdout[-3000:]}\n--- stderr\n{done.stderr[-3000:]}"
    )


def test_the_collector_finds_the_blocks():
    """The pages have the blocks this test runs, and skips are few and explained."""
    langs = {lang for _, _, lang, _, _ in BLOCKS}
    assert langs == {"python", "bash"}
    assert any(p == "docs/ema.md" and lang == "python" for p, _, lang, _, _ in BLOCKS)
    assert any(p == "docs/sweeps.md" and "__main__" in code for p, _, _, code, _ in BLOCKS)
    skipped = [b for b in BLOCKS if b[4]]
    assert len(skipped) <= len(BLOCKS) // 2, [f"{p}:{n}" for p, n, *_ in skipped]
    assert "--firms 200 --replications 3" in small("adoptsim run baseline\n")
    assert "n_firms=200" in small("simulate(sc, n_firms=20_000, replications=10)")
