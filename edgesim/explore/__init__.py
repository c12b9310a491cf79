"""What-if comparison, design-space sweeps and the fast NAS cost model."""
