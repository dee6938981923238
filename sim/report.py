"""The Report: what a cost engine says about one design point.

Units: ``cycles`` is an integer count of clock cycles; ``seconds = cycles / clock_hz``;
energy in pJ; bytes. ``energy_pj_by`` and ``actions`` are keyed by (component, action).
``busy_cycles`` counts the cycles each unit was occupied; ``utilization`` is useful PE-cycles
over (PEs of the unit * total cycles), a fraction in [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Report:
    """Cycles, energy and activity of one simulated (or estimated) design point."""

    engine: str
    cycles: int
    clock_hz: float
    actions: dict = field(default_factory=dict)          # (component, action) -> count
    energy_pj_by: dict = field(default_factory=dict)     # (component, action) -> pJ
    busy_cycles: dict = field(default_factory=dict)      # unit -> cycles occupied
    active_pe_cycles: dict = field(default_factory=dict)  # unit -> useful PE-cycles
    unit_pes: dict = field(default_factory=dict)         # unit -> PEs (lanes), 1 for channels
    dram_bytes: int = 0
    simulated_steps: int = 0
    extrapolated_steps: int = 0
    timeline: list | None = None                         # DES only: (unit, task, start, end)
    meta: dict = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        """Wall time of the accelerator, cycles / clock_hz (s)."""
        return self.cycles / self.clock_hz

    @property
    def energy_pj(self) -> float:
        """Total energy (pJ)."""
        return float(sum(self.energy_pj_by.values()))

    def energy_breakdown(self) -> dict:
        """Energy per component (pJ)."""
        out = {}
        for (comp, _action), pj in self.energy_pj_by.items():
            out[comp] = out.get(comp, 0.0) + pj
        return out

    @property
    def utilization(self) -> dict:
        """Per unit: useful PE-cycles / (PEs * cycles)."""
        if self.cycles <= 0:
            return {u: 0.0 for u in self.unit_pes}
        return {u: self.active_pe_cycles.get(u, 0.0) / (self.unit_pes[u] * self.cycles) for u in self.unit_pes}

    def record(self, **params) -> dict:
        """One flat record for tables and files: swept parameters first, then the figures."""
        rec = dict(params)
        rec.update(
            engine=self.engine,
            cycles=int(self.cycles),
            seconds=self.seconds,
            energy_pj=self.energy_pj,
            dram_bytes=int(self.dram_bytes),
            simulated_steps=int(self.simulated_steps),
            extrapolated_steps=int(self.extrapolated_steps),
            energy_breakdown=self.energy_breakdown(),
            utilization=self.utilization,
        )
        return rec


def report_from_totals(graph, engine: str, cycles: int, **extra) -> Report:
    """Build a Report whose counts come from ``graph.totals()`` (identical for every engine)."""
    actions, energy, busy, active = graph.totals()
    dram = sum(v for (comp, act), v in actions.items() if comp == "dram" and act.endswith("bytes"))
    dram += 8 * actions.get(("dram", "access_8b"), 0)   # SpGEMM counts 8-byte DRAM accesses
    return Report(
        engine=engine,
        cycles=int(cycles) + graph.offset_cycles,
        clock_hz=graph.clock_hz,
        actions=actions,
        energy_pj_by=energy,
        busy_cycles=busy,
        active_pe_cycles=active,
        unit_pes=dict(graph.units),
        dram_bytes=int(round(dram)),
        meta=dict(graph.meta),
        **extra,
    )
