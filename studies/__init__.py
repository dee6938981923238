"""Questions answered with the layers below: the ``explore`` CLI, sweeps, paper reproductions,
and :func:`explore`, the same explorer as a Python call that returns a pandas DataFrame
(:func:`to_records` turns the frame back into the records the plots take)."""

from studies.api import explore, to_records

__all__ = ["explore", "to_records"]
