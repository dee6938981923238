"""The discrete-event engine (SimPy): tile tasks on in-order units, contention, fill and drain,
exact fast-forward of periodic phases, Chrome-trace timelines. Entry point: :func:`run`."""

from sim.des.engine import DEFAULT_BUDGET_STEPS, run

__all__ = ["run", "DEFAULT_BUDGET_STEPS"]
