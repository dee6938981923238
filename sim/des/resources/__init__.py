"""Hardware resources of the discrete-event engine, one module per kind on a shared base."""

from sim.des.resources.base import Unit
from sim.des.resources.capacity import BufferCapacity
from sim.des.resources.compute import ComputeUnit
from sim.des.resources.dram import DramChannel, DramTiming
from sim.des.resources.port import BufferPort

KINDS = {"compute": ComputeUnit, "dram": DramChannel, "port": BufferPort}


def kind_of(graph, unit: str) -> str:
    """Resource kind of a unit: ``graph.meta['unit_kinds'][unit]`` if given, else by name
    (``dram*`` is a DRAM channel, a name containing ``port`` a buffer port, else compute)."""
    kinds = graph.meta.get("unit_kinds", {}) if graph.meta else {}
    if unit in kinds:
        return kinds[unit]
    if unit.lower().startswith("dram"):
        return "dram"
    if "port" in unit.lower():
        return "port"
    return "compute"


def make_units(env, graph) -> dict:
    """One resource per unit of ``graph``, in the order of ``graph.units``."""
    out = {}
    for k, (name, pes) in enumerate(graph.units.items()):
        cls = KINDS.get(kind_of(graph, name), ComputeUnit)
        out[name] = cls(env, name, pes, k)
    return out


__all__ = ["Unit", "ComputeUnit", "DramChannel", "DramTiming", "BufferPort", "BufferCapacity",
           "KINDS", "kind_of", "make_units"]
