"""AdoptionModel is a real mesa.Model: DataCollector, agent views, steps, running flag."""

import mesa
import numpy as np
import pytest

from adoptsim import AdoptionModel, FirmAgent
from adoptsim.segments import segment_table
from adoptsim.taxonomy import BARRIERS, SECTORS


@pytest.fixture
def model():
    return AdoptionModel("baseline", n_firms=2_000, seed=3)


def test_datacollector_with_model_and_agent_reporters(model):
    dc = mesa.DataCollector(
        model_reporters={"uses_ai": lambda m: m.share(), "at_scale": lambda m: m.share(True)},
        agent_reporters={"state": "state", "sector": "sector"},
    )
    views = [model.firm(i) for i in range(0, 2_000, 100)]
    assert all(isinstance(v, FirmAgent) and isinstance(v, mesa.Agent) for v in views)
    for _ in range(12):
        dc.collect(model)
        model.step()
    frame = dc.get_model_vars_dataframe()
    assert len(frame) == 12
    # what the reporter collected is the model's own record of each month (users can lapse, so
    # use need not rise every month; over the year it does)
    table = segment_table(model.recorder.result())
    recorded = table[table.segment_type == "all"].adopters_share.to_numpy()[:12]
    np.testing.assert_allclose(frame.uses_ai.to_numpy(), recorded, rtol=1e-12)
    assert frame.uses_ai.iloc[-1] > frame.uses_ai.iloc[0]
    agents = dc.get_agent_vars_dataframe()
    assert len(agents) == 12 * len(views)
    assert set(agents.sector) <= set(SECTORS)
    assert model.steps == 12 and model.date == "2020-01"


def test_agent_views_read_and_write_the_arrays(model):
    firm = model.firm(5)
    assert firm is model.firm(5)  # views are cached, one agent per firm
    assert firm.employees == model.firms.employees[5]
    assert set(firm.barriers) == set(BARRIERS)
    firm.state = 2
    assert model.state[5] == 2
    with pytest.raises(ValueError, match="must be 0, 1 or 2"):
        firm.state = 7
    assert len(firm.neighbours) == np.diff(model.network.adjacency.indptr)[5]
    assert firm in model.agents
    with pytest.raises(IndexError):
        model.firm(2_000)


def test_run_to_end_sets_running_false(model):
    record = model.run()
    assert not model.running
    assert model.date == "2028-12"
    assert model.steps == 119
    assert len(record.months) == 120
    model.step()  # a step after the end changes nothing
    assert model.date == "2028-12"


def test_mesa_rng_is_seeded_from_the_run_seed():
    a = AdoptionModel("baseline", n_firms=500, seed=1)
    b = AdoptionModel("baseline", n_firms=500, seed=1)
    assert a.rng.random() == b.rng.random() and a.random.random() == b.random.random()
