"""Sweep machinery: the spec and its tasks, the folder store, dispatch to workers, the pool.

Nothing is imported here, so that a worker's first import (`adoptsim.sweeps.guard`) stays light.
"""
