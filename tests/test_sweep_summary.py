"""A finished sweep prints each point's median with its Monte-Carlo error and the cap notes."""

from adoptsim.cli import main


def test_sweep_prints_medians_with_mc_error_and_cap_notes(tmp_path, capsys):
    spec = tmp_path / "s.toml"
    spec.write_text(
        '[sweep]\nscenarios = ["baseline", "subsidy_plus"]\nreplications = 3\n'
        "n_firms = 300\nseed = 5\n",
        encoding="utf-8",
    )
    assert (
        main(["sweep", str(spec), "--out", str(tmp_path / "out"), "--workers", "1", "--quiet"]) == 0
    )
    said = capsys.readouterr().out
    lines = said.splitlines()
    for name in ("baseline", "subsidy_plus"):
        (line,) = [x for x in lines if x.startswith(f"{name}: 2028-12 uses AI ")]
        assert "pp MC s.e." in line and "median of 3 replications" in line
    # three replications cannot pin a median to 1 pp: said so
    assert any(x.startswith("warning: the Monte-Carlo standard error") for x in lines)
    # the cap note run and compare print (subsidy_plus raises rates the cap holds back)
    assert any(x.startswith("subsidy_plus: note: rate_small raised") for x in lines), said
