"""Calibration and its checks.

Targets, evaluations, likelihood, design, emulator, MCMC, the calibration's orchestration,
synthetic-truth recovery, validation against the targets and out-of-sample backtests; the panel
benchmark (panel, hazard, benchmark, shock) and the scores every forecast is compared on (scores,
skill).
"""
