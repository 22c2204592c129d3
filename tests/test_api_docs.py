"""The API reference renders: the built site has no literal Sphinx roles and its links resolve."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Sphinx roles that MkDocs would print as text, e.g. :class:`Scenario`.
SPHINX_ROLE = re.compile(r":(class|func|meth|mod|attr|data|obj|exc):`")
ROLE_IN_HTML = re.compile(r":(class|func|meth|mod|attr|data|obj|exc):")


def test_no_sphinx_roles_in_docstrings():
    """Fast check of the source, naming the file and line."""
    hits = [
        f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
        for path in sorted((ROOT / "adoptsim").rglob("*.py"))
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if SPHINX_ROLE.search(line)
    ]
    assert not hits, "use [`name`][adoptsim.module.name] or plain `code`:\n" + "\n".join(hits)


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site")
    # Not -q: quiet mode drops warnings before --strict counts them, so a docstring that
    # mkdocstrings cannot render (e.g. a Returns section without a return type) still "passed".
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    problems = [x for x in done.stderr.splitlines() if x.startswith(("WARNING", "ERROR"))]
    assert done.returncode == 0, "\n".join(problems) or done.stderr[-3000:]
    return out


def test_built_site_has_no_literal_sphinx_roles(site):
    hits = {
        str(p.relative_to(site)): len(ROLE_IN_HTML.findall(p.read_text(encoding="utf-8")))
        for p in site.rglob("*.html")
    }
    assert {k: v for k, v in hits.items() if v} == {}
    assert len(hits) >= 10  # the pages were really built


def test_api_reference_lists_and_links_the_public_objects(site):
    html = (site / "api" / "index.html").read_text(encoding="utf-8")
    for name in (
        "adoptsim.simulation.simulate",
        "adoptsim.sweeps.dispatch.sweep",
        "adoptsim.fit.calibrate.calibrate",
        "adoptsim.sensitivity_analysis.sensitivity",
        "adoptsim.comparison.compare",
        "adoptsim.evidence.evidence_check",
        "adoptsim.plots.fan_chart",
        "adoptsim.schedule.Schedule",
        "adoptsim.parameters.Parameter",
        "adoptsim.ema.model",
        "adoptsim.errors.ScenarioError",
    ):
        assert f'id="{name}"' in html, name
    # Cross-references written [`x`][adoptsim.y] became links, none were left as text.
    assert 'href="#adoptsim.scenario.Scenario"' in html
    assert "][adoptsim." not in html
