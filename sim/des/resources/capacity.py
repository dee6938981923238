"""Buffer capacity: how many bytes of tiles an on-chip buffer holds at once.

In the lowered task graph a buffer's occupancy is expressed by *slots*: a tile load that must
wait until the compute of tile ``i - k`` has freed its slot (a dependency of distance ``k``)
keeps at most ``k`` tiles resident. The bytes those slots take are declared per task in
``Task.holds`` (buffer -> bytes resident for all of that task's slots) and the capacities in
``TaskGraph.buffers``. Within a phase every declared footprint can be resident at the same time,
so the check is the sum per buffer; a single tile larger than its buffer gets its own message.
Both checks run when the graph is built, before any engine runs it.

:class:`BufferCapacity` is the SimPy view the engine instantiates per buffer: a
``simpy.Container`` of bytes that each phase fills with its resident tiles for its duration
(the peak is reported in ``Report.meta["des"]["buffer_peak_bytes"]``).
"""

from __future__ import annotations

import simpy


class BufferCapacity:
    """A buffer of ``size_bytes`` bytes as a SimPy container of bytes."""

    kind = "buffer"

    def __init__(self, env: simpy.Environment, name: str, size_bytes: int):
        self.env = env
        self.name = name
        self.size_bytes = size_bytes
        self.container = simpy.Container(env, capacity=max(size_bytes, 1), init=0)
        self.peak_bytes = 0

    def resident_bytes(self, phase) -> int:
        """Bytes the tiles of ``phase`` keep here (sum of its running tasks' ``holds``)."""
        return sum(t.holds.get(self.name, 0) for t in phase.tasks if t.count(phase.iterations))

    def hold(self, phase, duration_cycles: int):
        """SimPy process body: the phase's tiles occupy the buffer for ``duration_cycles``."""
        resident = self.resident_bytes(phase)
        self.peak_bytes = max(self.peak_bytes, resident)
        if resident:
            yield self.container.put(resident)
        yield self.env.timeout(duration_cycles)
        if resident:
            yield self.container.get(resident)
