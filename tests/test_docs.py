"""Generated documentation is current: docs/parameters.md equals its generator's output."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _generator():
    spec = importlib.util.spec_from_file_location("gen_parameters", ROOT / "docs/gen_parameters.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_parameters_doc_is_current():
    expected = _generator().parameters_markdown()
    actual = (ROOT / "docs/parameters.md").read_text(encoding="utf-8")
    assert actual == expected, "regenerate: python docs/gen_parameters.py > docs/parameters.md"


def test_parameters_doc_lists_every_calibrated_key():
    from adoptsim.posterior import PARAMETERS

    text = (ROOT / "docs/parameters.md").read_text(encoding="utf-8")
    for p in PARAMETERS["flanders"]:
        for key in p.keys:
            assert f"`{key}`" in text, key
