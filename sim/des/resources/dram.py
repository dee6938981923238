"""A DRAM channel: ``bw_bytes_per_cycle`` bytes per cycle after ``latency_cycles`` of access latency.

A transfer of ``B`` bytes occupies the channel for ``ceil(B / bw_bytes_per_cycle)`` cycles
(transfers on one channel serialize: that is bandwidth contention), and its data is usable
``latency_cycles`` after the channel is released (the task's ``latency``). Several channels are
several units. :class:`DramTiming` builds such transfer tasks for a lowering, which has no
SimPy environment; :class:`DramChannel` is the resource the engine instantiates.
"""

from __future__ import annotations

from dataclasses import dataclass

from arch.errors import SimulationError
from sim.des.resources.base import Unit
from sim.cost import dram_transfer, transfer_cycles
from sim.taskgraph import Task


@dataclass(frozen=True)
class DramTiming:
    """Bandwidth (bytes per cycle) and latency (cycles) of one DRAM channel."""

    bw_bytes_per_cycle: float
    latency_cycles: int = 0

    def __post_init__(self):
        if not self.bw_bytes_per_cycle > 0:
            raise SimulationError(f"dram: 'bw_bytes_per_cycle' must be positive, not {self.bw_bytes_per_cycle!r}")
        if int(self.latency_cycles) != self.latency_cycles or self.latency_cycles < 0:
            raise SimulationError(f"dram: 'latency_cycles' must be a non-negative integer, not {self.latency_cycles!r}")

    def transfer_cycles(self, size_bytes: float) -> int:
        """Cycles the channel is busy moving ``size_bytes`` bytes."""
        return transfer_cycles(size_bytes, self.bw_bytes_per_cycle)

    def transfer_task(self, name: str, unit: str, size_bytes: int, *, write: bool = False,
                      pj_per_byte: float = 0.0, deps=(), every: int = 1, offset: int = 0,
                      holds=None) -> Task:
        """A task moving ``size_bytes`` bytes on channel ``unit`` (a read unless ``write``)."""
        actions, energy = dram_transfer(0, size_bytes, pj_per_byte) if write else \
            dram_transfer(size_bytes, 0, pj_per_byte)
        return Task(name=name, unit=unit, cycles=self.transfer_cycles(size_bytes),
                    latency=int(self.latency_cycles), deps=tuple(deps),
                    actions=actions, energy_pj=energy,
                    every=every, offset=offset, holds=holds or {})


class DramChannel(Unit):
    """One DRAM channel as a resource (see :class:`DramTiming` for its cycle model)."""

    kind = "dram"

    def __init__(self, env, name, pes=1, index=0, timing: DramTiming | None = None):
        super().__init__(env, name, pes, index)
        self.timing = timing
