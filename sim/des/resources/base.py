"""The shared base of every hardware resource the discrete-event engine models.

In hardware terms a resource is something a tile task occupies for a number of cycles: a
compute array, a DRAM channel, a buffer port. Each is a SimPy resource of capacity one (the
unit issues one task at a time, in program order) bound to a :class:`simpy.Environment`, so the
same object serves both executors of the engine:

* the *process* executor (``sim/des/processes.py``) requests it with ``occupy`` from one SimPy
  process per unit, exactly as a SimPy model would;
* the *compiled* executor (``sim/des/engine.py``) reads its ``index`` into the engine's vector
  of free times, because in-order issue fixes the order of every request in advance.

Subclasses add what their kind needs (bandwidth, latency, width) the way SimPy's own resource
kinds add to ``simpy.resources.base``.
"""

from __future__ import annotations

import simpy


class Unit:
    """A unit that tile tasks occupy one at a time.

    Parameters
    ----------
    env : simpy.Environment
    name : str
        Its name in the task graph (``TaskGraph.units``).
    pes : int
        Processing elements (lanes) it has, for utilization; 1 for channels and ports.
    index : int
        Its position in the engine's free-time vector.
    """

    kind = "unit"

    def __init__(self, env: simpy.Environment, name: str, pes: int = 1, index: int = 0):
        self.env = env
        self.name = name
        self.pes = pes
        self.index = index
        self.resource = simpy.Resource(env, capacity=1)
        self.busy_cycles = 0

    def occupy(self, cycles: int):
        """SimPy process body: hold the unit for ``cycles`` cycles (integer)."""
        with self.resource.request() as req:
            yield req
            yield self.env.timeout(cycles)
        self.busy_cycles += cycles

    def __repr__(self):
        return f"{type(self).__name__}({self.name!r}, pes={self.pes})"
