"""A compute unit: a spatial array (2D PE grid, 1D vector array, exp unit) occupied tile by tile.

A compute tile task holds the whole array for its ``cycles``; its ``latency`` is the pipeline
depth after which its results can be read by a dependent task. Utilization counts the useful
PE-cycles of each task over ``pes * cycles``.
"""

from __future__ import annotations

from sim.des.resources.base import Unit


class ComputeUnit(Unit):
    """A PE array of ``pes`` processing elements that runs one tile task at a time."""

    kind = "compute"
