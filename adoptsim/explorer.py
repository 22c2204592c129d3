"""The lever explorer: one Panel app for Jupyter and the browser.

Sliders set the main policy levers (from ``LEVER_START`` on; history stays as enacted) and two
technology assumptions; the app simulates the changed scenario against the baseline with common
random numbers and shows the projection with its band against the baseline's, the observed
survey points, where the projection starts, the paired difference by size class, and offers the
resulting table for download.

* In Jupyter: ``import panel as pn; pn.extension(); from adoptsim.explorer import app; app()``.
* In the browser: ``adoptsim explore [--port P]`` (serves http://127.0.0.1:P/).

Install with ``pip install adoptsim[jupyter]`` (Panel is part of it).
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from adoptsim.comparison import compare
from adoptsim.months import parse_month
from adoptsim.scenario import Scenario, load_scenario

#: Most agents per run the explorer takes: every slider move runs two scenarios in the request.
MAX_FIRMS = 200_000
#: Most paired replications per scenario (same reason).
MAX_REPLICATIONS = 100
#: Comparisons kept (slider settings already simulated); older ones are dropped.
CACHE_SIZE = 32
LEVER_START = "2027-01"
FINAL = "2028-12"
# Widths (px) that fill a 1,400-px window: slider labels stay whole, plots stay legible.
SIDEBAR, PANEL = 420, 880
# Headless Chromium as the browser test and the docs screenshot start it: without the
# background-networking switches Chromium keeps dialling out on a machine with no network.
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)


@dataclass(frozen=True)
class Slider:
    """One slider: the scenario keys it sets, its range and how it is applied."""

    name: str
    label: str
    keys: tuple[str, ...]
    lo: float
    hi: float
    step: float
    dated: bool  # a lever that applies from LEVER_START on (else a constant assumption)


SLIDERS = (
    Slider(
        "rate_small",
        "KMO-portefeuille rate, small firms (from 2027)",
        ("levers.kmo_portefeuille.rate_small",),
        0.0,
        0.8,
        0.05,
        True,
    ),
    Slider(
        "kmo_ai_share",
        "KMO-portefeuille: share of projects that are about AI",
        ("levers.kmo_portefeuille.ai_share",),
        0.01,  # the prior's range (adoptsim/priors.py, lever_evidence.csv)
        0.05,
        0.005,
        False,
    ),
    Slider(
        "training_reach",
        "AI training reach per year, firms < 250 (from 2027)",
        (
            "levers.training.reach_micro",
            "levers.training.reach_small",
            "levers.training.reach_medium",
        ),
        0.0,
        0.5,
        0.01,
        True,
    ),
    Slider(
        "coaching_reach",
        "Coaching reach per year (from 2027)",
        ("levers.coaching.reach",),
        0.0,
        0.3,
        0.01,
        True,
    ),
    # θ_peer is fitted: at the scenario's fall-back (2) no override is made and each
    # replication keeps its posterior draw; any other value sets it for all of them.
    Slider(
        "theta_peer",
        "Technology: peer effect, logit per unit peer share (2: fitted draws)",
        ("rule.theta_peer",),
        0.5,
        4.0,
        0.1,
        False,
    ),
    # The drift, not its clock (`path_speed`): the drift's sign is uncertain (a prior around 0),
    # so a faster clock can lower use as well as raise it, which no reader of a slider expects.
    # At the scenario's value (0) no override is made: each replication draws it from its prior.
    Slider(
        "genai_drift",
        "Technology: AI capability change a year after the data (0: drawn)",
        ("shocks.genai.drift",),
        -0.15,
        0.15,
        0.01,
        False,
    ),
)


def slider_default(scenario: Scenario, s: Slider) -> float:
    """A slider's starting value: the scenario's value in force at LEVER_START."""
    from adoptsim.schedule import Schedule

    value = scenario.get(s.keys[0])
    if isinstance(value, Schedule):
        return float(value.at(parse_month(LEVER_START)))
    return float(value)


def overrides(scenario: Scenario, values: dict[str, float]) -> dict:
    """Dotted overrides for the slider values that differ from the scenario's own."""
    out: dict = {}
    for s in SLIDERS:
        v = values.get(s.name)
        if v is None or np.isclose(v, slider_default(scenario, s)):
            continue
        for key in s.keys:
            if s.dated:
                out[key] = {LEVER_START: float(v)}
            else:
                out[key] = float(v)
    return out


@lru_cache(maxsize=CACHE_SIZE)
def _run(base: str, changes: tuple, n_firms: int, replications: int, seed: int):
    sc = load_scenario(base)
    thawed = {k: dict(v) if isinstance(v, tuple) else v for k, v in changes}
    mine = sc.with_overrides({**thawed, "scenario.name": "your choice"})
    return compare([sc, mine], n_firms=n_firms, seed=seed, replications=replications)


def explore_run(
    values: dict[str, float],
    *,
    base: str = "baseline",
    n_firms: int = 3000,
    replications: int = 6,
    seed: int = 0,
):
    """The comparison behind the app: the base scenario against the slider values (cached)."""
    sc = load_scenario(base)
    changes = overrides(sc, values)
    frozen = tuple(sorted((k, _freeze(v)) for k, v in changes.items()))
    return _run(base, frozen, n_firms, replications, seed)


def _freeze(v):
    return tuple(sorted(v.items())) if isinstance(v, dict) else v


def _bands(comp, name: str) -> pd.DataFrame:
    a = comp.adoption[(comp.adoption.segment_type == "all") & (comp.adoption.scenario == name)]
    g = a.groupby("date").adopters_share
    return pd.DataFrame(
        {
            "date": pd.to_datetime(g.median().index, format="%Y-%m"),
            "median": 100 * g.median().to_numpy(),
            "p05": 100 * g.quantile(0.05).to_numpy(),
            "p95": 100 * g.quantile(0.95).to_numpy(),
        }
    )


def _size_effects(comp) -> pd.DataFrame:
    from adoptsim.plots import MIN_AGENTS

    d = comp.differences
    part = d[(d.segment_type == "size") & (d.date == FINAL)]
    g = part.groupby("segment", sort=False).adopters_share
    out = pd.DataFrame(
        {
            "segment": list(g.median().index),
            "median": 100 * g.median().to_numpy(),
            "p05": 100 * g.quantile(0.05).to_numpy(),
            "p95": 100 * g.quantile(0.95).to_numpy(),
        }
    )
    if comp.agents is not None:
        a = comp.agents[comp.agents.segment_type == "size"].set_index("segment")["agents"]
        few = out.segment.map(lambda s: a.get(s, 0) < MIN_AGENTS).to_numpy()
        out.loc[few, ["median", "p05", "p95"]] = np.nan  # flagged in the label, not drawn
        out["segment"] = [f"{s} ⚠" if f else s for s, f in zip(out.segment, few, strict=True)]
    return out


def _padded_range(eff: pd.DataFrame) -> tuple[float, float]:
    """A y range (pp) holding every whisker and zero, with 10 % room either side."""
    values = pd.concat([eff["p05"], eff["p95"], eff["median"]]).dropna()
    lo = min(0.0, float(values.min())) if len(values) else 0.0
    hi = max(0.0, float(values.max())) if len(values) else 0.0
    pad = 0.1 * (hi - lo) or 0.5
    return lo - pad, hi + pad


def _mc_errors(comp, base: str, seed: int) -> dict[str, float]:
    """MC standard errors of the final all-firm medians and of their paired difference."""
    from adoptsim.precision import table_mc_error

    a, d = comp.adoption, comp.differences
    at = (a.segment_type == "all") & (a.date == FINAL)
    return {
        base: table_mc_error(a[at & (a.scenario == base)], seed=seed),
        "your choice": table_mc_error(a[at & (a.scenario == "your choice")], seed=seed),
        "difference": table_mc_error(d[(d.segment_type == "all") & (d.date == FINAL)], seed=seed),
    }


def table_csv(comp) -> str:
    """The comparison's yearly summary as CSV text (what the download button gives)."""
    buf = io.StringIO()
    comp.summary.to_csv(buf, index=False, float_format="%.5f", lineterminator="\n")
    return buf.getvalue()


def app(
    base: str = "baseline",
    *,
    n_firms: int = 3000,
    replications: int = 6,
    seed: int = 0,
):
    """The explorer as a Panel layout (display it in Jupyter, or serve it).

    Args:
        base: the scenario the sliders change (and the reference it is compared with).
        n_firms: agents per run (more: slower, smoother).
        replications: paired replications per scenario (the bands are their 5–95 %).
        seed: base seed (the same for both scenarios: common random numbers).
    """
    import panel as pn
    from bokeh.models import ColumnDataSource, Range1d, Span, Whisker
    from bokeh.plotting import figure

    from adoptsim.plots import USES_AI, observed_points, population_label, projection_start
    from adoptsim.precision import precision_note, precision_warning

    sc = load_scenario(base)
    widgets = {
        s.name: pn.widgets.FloatSlider(
            name=s.label,
            start=s.lo,
            end=s.hi,
            step=s.step,
            value=slider_default(sc, s),
            width=SIDEBAR,
        )
        for s in SLIDERS
    }
    for name, w in widgets.items():
        w.css_classes = [f"slider-{name}"]
    points = observed_points(sc)
    start = projection_start(points)

    base_src = ColumnDataSource(data={"date": [], "median": [], "p05": [], "p95": []}, name="base")
    mine_src = ColumnDataSource(
        data={"date": [], "median": [], "p05": [], "p95": []}, name="projection"
    )
    size_src = ColumnDataSource(
        data={"segment": [], "median": [], "p05": [], "p95": []}, name="by_size"
    )
    obs_src = ColumnDataSource(
        data={
            "date": list(points.date),
            "value": list(100 * points.value),
            "lo": list(100 * (points.value - 2 * points.se)),
            "hi": list(100 * (points.value + 2 * points.se)),
        },
        name="observed",
    )
    p1 = figure(
        height=380,
        width=PANEL,
        x_axis_type="datetime",
        title=f"Uses AI — {population_label(sc)} (%)",
        y_range=Range1d(0, 100),
        tools="pan,wheel_zoom,reset,save",
    )
    p1.varea("date", "p05", "p95", source=base_src, color="gray", alpha=0.25)
    p1.line("date", "median", source=base_src, color="black", line_width=2, legend_label=base)
    p1.varea("date", "p05", "p95", source=mine_src, color="#1f77b4", alpha=0.25)
    p1.line(
        "date", "median", source=mine_src, color="#1f77b4", line_width=2, legend_label="your choice"
    )
    p1.scatter(
        "date",
        "value",
        source=obs_src,
        color="black",
        size=7,
        legend_label="AI-barometer (frame 10+), ± 2 se",
    )
    p1.add_layout(Whisker(source=obs_src, base="date", upper="hi", lower="lo"))
    if start is not None:
        p1.add_layout(Span(location=start, dimension="height", line_dash="dotted"))
    p1.legend.location = "top_left"
    p1.yaxis.axis_label = "% of firms"
    p2 = figure(
        height=300,
        width=PANEL,
        x_range=[],
        title=f"Difference with {base} in {FINAL} by size class (pp, median of paired differences)",
        tools="save",
    )
    p2.scatter("segment", "median", source=size_src, size=9, color="#1f77b4")
    p2.add_layout(Whisker(source=size_src, base="segment", upper="p95", lower="p05"))
    # Whiskers are annotations, which Bokeh's automatic range ignores: the range is set from
    # them on every redraw (see update), so they stay inside the panel.
    p2.y_range = Range1d(-1, 1)
    p2.yaxis.axis_label = "percentage points"

    status = pn.pane.Markdown("", width=SIDEBAR, css_classes=["explorer-status"])
    summary = pn.pane.Markdown("", width=PANEL, css_classes=["explorer-summary"])
    state: dict = {}

    def csv_file():
        return io.BytesIO(table_csv(state["comp"]).encode("utf-8")) if "comp" in state else None

    download = pn.widgets.FileDownload(
        callback=csv_file,
        filename="adoptsim_explorer.csv",
        label="Download the table (CSV)",
        width=SIDEBAR,
    )

    def update(*_):
        status.object = "simulating…"
        values = {k: w.value for k, w in widgets.items()}
        try:
            comp = explore_run(
                values, base=base, n_firms=n_firms, replications=replications, seed=seed
            )
        except Exception as exc:  # one line in the page, the traceback in the server's log
            logging.getLogger("adoptsim.explorer").exception("explorer update failed")
            status.object = f"**not simulated:** {_one_line(exc)}"
            return
        state["comp"] = comp
        b, m = _bands(comp, base), _bands(comp, "your choice")
        base_src.data = {c: list(b[c]) for c in b.columns}
        mine_src.data = {c: list(m[c]) for c in m.columns}
        eff = _size_effects(comp)
        p2.x_range.factors = list(eff.segment)
        size_src.data = {c: list(eff[c]) for c in eff.columns}
        p2.y_range.start, p2.y_range.end = _padded_range(eff)
        last = comp.summary[
            (comp.summary.segment_type == "all") & (comp.summary.date == FINAL)
        ].set_index("scenario")
        diff = last.loc["your choice"]
        se = _mc_errors(comp, base, seed)
        summary.object = (
            f"**{FINAL}: {100 * diff.uses_ai_median:.1f} % use AI** "
            f"({precision_note(se['your choice'])}) with your choice, "
            f"{100 * last.loc[base].uses_ai_median:.1f} % ({precision_note(se[base])}) in {base}; "
            f"paired difference {100 * diff.diff_uses_ai_median:+.2f} pp "
            f"({precision_note(se['difference'])}) [{100 * diff.diff_uses_ai_p05:+.2f}, "
            f"{100 * diff.diff_uses_ai_p95:+.2f}] (median and 5–95 % of paired differences; "
            "MC s.e.: Monte-Carlo standard error of the median, docs/uncertainty.md)."
            + "".join(
                f"\n\n⚠ {w}"
                for w in (precision_warning(v, f"the {k} median") for k, v in se.items())
                if w
            )
        )
        status.object = "ready"

    for w in widgets.values():
        w.param.watch(update, "value_throttled")
    notes = pn.pane.Markdown(
        f"{USES_AI} Levers apply from {LEVER_START}; earlier months are as enacted. Bands: "
        f"5–95 % of {replications} paired replications of {n_firms:,} agents (posterior draws "
        "and stochastic). Dotted line: the projection starts (the data end in 2024-12). ⚠: too "
        "few agents in that size class to show a difference.",
        width=PANEL,
    )
    layout = pn.Row(
        pn.Column("## adoptsim lever explorer", *widgets.values(), download, status),
        pn.Column(summary, pn.pane.Bokeh(p1), pn.pane.Bokeh(p2), notes),
    )
    update()
    return layout


class _QuietDisconnects:
    """A logging filter that drops the tracebacks a closed browser tab leaves in the server log.

    When a tab closes while a redraw is on its way, Bokeh and Tornado log the write to the gone
    websocket as an error with a traceback (``AssertionError``, ``WebSocketClosedError``,
    ``StreamClosedError``); nothing is wrong with the server. Other records pass.
    """

    NAMES = ("AssertionError", "WebSocketClosedError", "StreamClosedError")

    def filter(self, record) -> bool:
        exc = record.exc_info[0] if record.exc_info else None
        if exc is not None and exc.__name__ in self.NAMES:
            return False
        text = record.getMessage()
        return not any(name in text for name in self.NAMES)


def quiet_disconnects() -> None:
    """Install `_QuietDisconnects` on the handlers that print Bokeh's and Tornado's records.

    A propagated record meets only handlers' filters, so the filter goes on the handlers of
    the root logger and of every Bokeh, Tornado and asyncio logger (idempotent; called again
    once a session starts, when the server has set its logging up).
    """
    import logging

    names = [""] + [
        n
        for n in logging.Logger.manager.loggerDict
        if n.split(".")[0] in ("bokeh", "tornado", "asyncio")
    ]
    for name in names:
        logger = logging.getLogger(name)
        for target in (logger, *logger.handlers):
            if not any(isinstance(f, _QuietDisconnects) for f in target.filters):
                target.addFilter(_QuietDisconnects())


def check_settings(
    port: int = 5006,
    *,
    base: str = "baseline",
    n_firms: int = 3000,
    replications: int = 6,
    seed: int = 0,
) -> Scenario:
    """Refuse, in one line, explorer settings that would fail only once a browser connects.

    Checks the port (a number within 1..65535 that nothing else listens on), the scenario, the
    agents (100..`MAX_FIRMS`), the replications (1..`MAX_REPLICATIONS`) and the memory a
    comparison needs. Returns the loaded scenario.

    Raises:
        AdoptsimError: naming the setting and what is allowed.
    """
    import socket

    from adoptsim import arguments, memory
    from adoptsim.errors import ScenarioError

    port = arguments.whole_number(port, "port", 1, 65535)
    sc = load_scenario(base)
    n_firms = arguments.whole_number(n_firms, "firms", arguments.MIN_FIRMS, MAX_FIRMS)
    replications = arguments.whole_number(replications, "replications", 1, MAX_REPLICATIONS)
    arguments.seed(seed)
    memory.check_scenario(sc, n_firms, replications=replications, copies=4)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            raise ScenarioError(
                "port", port, f"cannot be used ({exc.strerror}); choose another --port"
            ) from None
    return sc


def _safe_app(**kwargs):
    """`app`, or one line in the page if it fails: the browser never gets a traceback."""
    try:
        return app(**kwargs)
    except Exception as exc:  # logged in full on the server, one line to the browser
        import panel as pn

        logging.getLogger("adoptsim.explorer").exception("explorer session failed")
        return pn.pane.Markdown(f"**The explorer could not start:** {_one_line(exc)}")


def _one_line(exc: BaseException) -> str:
    from adoptsim.errors import AdoptsimError

    if isinstance(exc, AdoptsimError):
        return str(exc).splitlines()[0]
    return f"internal error ({type(exc).__name__}); see the server's log"


def _only_local_hosts(tornado_app, port: int) -> None:
    """Answer requests whose Host header is not this machine's with 403 (DNS rebinding).

    ``allow_websocket_origin`` guards the websocket only; a page fetched through a rebound
    name would still run a comparison on every GET.
    """
    import tornado.web

    allowed = {f"127.0.0.1:{port}", f"localhost:{port}"}

    class Forbidden(tornado.web.RequestHandler):
        def prepare(self) -> None:
            raise tornado.web.HTTPError(403, reason="Host not allowed")

        def write_error(self, status_code: int, **kwargs) -> None:
            self.finish(f"{status_code}: the explorer answers only http://127.0.0.1:{port}/")

    find = tornado_app.find_handler

    def find_handler(request, **kwargs):
        if request.host not in allowed:
            return tornado_app.get_handler_delegate(request, Forbidden)
        return find(request, **kwargs)

    tornado_app.find_handler = find_handler


def serve(port: int = 5006, *, show: bool = False, **kwargs) -> None:
    """Serve the explorer at http://127.0.0.1:PORT/ until interrupted.

    The settings are checked first ([`check_settings`][adoptsim.explorer.check_settings]); only
    requests for ``127.0.0.1:PORT`` or ``localhost:PORT`` are answered.
    """
    import panel as pn

    settings = {k: kwargs[k] for k in ("base", "n_firms", "replications", "seed") if k in kwargs}
    check_settings(port, **settings)
    quiet_disconnects()

    def session():
        pn.state.onload(quiet_disconnects)
        return _safe_app(**kwargs)

    server = pn.serve(
        session,
        port=port,
        address="127.0.0.1",
        allow_websocket_origin=[f"127.0.0.1:{port}", f"localhost:{port}"],
        show=False,
        title="adoptsim lever explorer",
        threaded=False,
        start=False,
    )
    _only_local_hosts(server._tornado, port)
    server.start()
    if show:
        server.show("/")
    server.io_loop.start()


__all__ = ["SLIDERS", "app", "explore_run", "serve", "table_csv"]
