"""Shared helpers of the experiments tests (tiny configs, array comparison, child sweeps)."""
