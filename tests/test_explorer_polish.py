"""Explorer details that need no browser: whisker range, quiet disconnects, MC errors."""

import logging

import numpy as np
import pandas as pd

from adoptsim.explorer import _padded_range, _QuietDisconnects


def test_size_panel_range_holds_every_whisker_and_zero():
    eff = pd.DataFrame(
        {"median": [0.2, 1.0, np.nan], "p05": [-0.5, 0.1, np.nan], "p95": [3.0, 2.5, np.nan]}
    )
    lo, hi = _padded_range(eff)
    assert lo < -0.5 and hi > 3.0
    lo, hi = _padded_range(pd.DataFrame({"median": [0.5], "p05": [0.2], "p95": [0.9]}))
    assert lo < 0 < 0.9 < hi  # zero stays in view


def _record(exc: BaseException | None, msg: str = "write failed") -> logging.LogRecord:
    info = (type(exc), exc, None) if exc is not None else None
    return logging.LogRecord("bokeh.server", logging.ERROR, __file__, 1, msg, None, info)


def test_disconnect_tracebacks_are_dropped_and_other_errors_kept():
    f = _QuietDisconnects()
    assert not f.filter(_record(AssertionError()))
    assert not f.filter(_record(None, "WebSocketClosedError: the socket is closed"))
    assert f.filter(_record(ValueError("a real bug")))
    assert f.filter(_record(None, "session created"))
