"""What the hardware is: typed, validated architecture specs, presets, energy and area tables."""

from arch.errors import AccelError, MappingError, SimulationError, SpecError, WorkloadError

__all__ = ["AccelError", "SpecError", "WorkloadError", "MappingError", "SimulationError"]
