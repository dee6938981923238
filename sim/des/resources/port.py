"""A buffer port: the read or write port of an on-chip buffer, ``width_bytes_per_cycle`` wide.

Moving a tile between two on-chip levels occupies the port for ``ceil(bytes / width)`` cycles;
two transfers through the same port serialize, which is how on-chip bandwidth contention
appears in the simulation.
"""

from __future__ import annotations

import math

from arch.errors import SimulationError
from sim.des.resources.base import Unit


class BufferPort(Unit):
    """A buffer port moving ``width_bytes_per_cycle`` bytes per cycle."""

    kind = "port"

    def __init__(self, env, name, pes=1, index=0, width_bytes_per_cycle: float = 1.0):
        super().__init__(env, name, pes, index)
        if not width_bytes_per_cycle > 0:
            raise SimulationError(f"port {name!r}: 'width_bytes_per_cycle' must be positive, not {width_bytes_per_cycle!r}")
        self.width_bytes_per_cycle = width_bytes_per_cycle

    def transfer_cycles(self, size_bytes: float) -> int:
        """Cycles the port is busy moving ``size_bytes`` bytes (at least 1 for a non-empty tile)."""
        return math.ceil(size_bytes / self.width_bytes_per_cycle) if size_bytes > 0 else 0
