"""Plots of sweeps and design points, written in the format their file extension names.

- :func:`plot_records` / :func:`sweep_figure`: latency against energy and area with Pareto
  fronts, energy by component, utilization by unit (:mod:`studies.plots.summary`);
- :func:`plot_roofline` / :func:`roofline_figure`: each design point on its roofline
  (:mod:`studies.plots.roofline`);
- :func:`plot_timeline` / :func:`timeline_figure`: unit occupancy over the simulated window of
  one discrete-event run, read from its Chrome trace (:mod:`studies.plots.timeline`);
- :func:`plot_ladder` / :func:`ladder_figure`: the FuseMax ablation ladder (:mod:`studies.plots.ladder`).

:func:`write_plots` writes every view that applies to a sweep (what ``explore --plot`` does).
Labels name the parameters that vary across the sweep (:mod:`studies.plots.labels`); the
drawing rules shared by every view are in :mod:`studies.plots.layout`.
"""

from studies.plots.labels import Swept
from studies.plots.ladder import ladder_figure, plot_ladder
from studies.plots.layout import FORMATS, check_path, sibling
from studies.plots.roofline import plot_roofline, roofline_figure
from studies.plots.summary import pareto_front, plot_records, sweep_figure
from studies.plots.timeline import plot_timeline, timeline_figure
from studies.plots.views import point_params, write_plots

__all__ = ["FORMATS", "Swept", "check_path", "ladder_figure", "pareto_front", "plot_ladder", "plot_records", "plot_roofline",
           "plot_timeline", "point_params", "roofline_figure", "sibling", "sweep_figure", "timeline_figure",
           "write_plots"]
