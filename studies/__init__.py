"""Questions answered with the layers below: the ``explore`` CLI, sweeps, paper reproductions,
and :func:`explore`, the same explorer as a Python call that returns a pandas DataFrame."""

from studies.api import explore

__all__ = ["explore"]
