"""What runs and how it is laid on hardware: extended-Einsum cascades, the cascade library,
model workloads, mappings and the mapper."""
