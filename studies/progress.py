"""The progress of a sweep on stderr: a bar while points finish, and a closing summary line.

The bar is tqdm's, shown only when stderr is a terminal (a pipe, a file or a notebook's
captured stream gets no bar and no carriage returns); the summary line is written whenever
progress reporting is on, so a log still says how many points ran and how long they took.
"""

from __future__ import annotations

import sys
import time

from tqdm import tqdm


class Progress:
    """Progress of ``total`` design points.

    Parameters
    ----------
    total : int
        Number of design points of the sweep (resumed ones included).
    enabled : bool
        False (``--quiet``, or the Python API's default): neither bar nor summary line.
    """

    def __init__(self, total: int, enabled: bool):
        self.enabled = enabled
        self.t0 = time.perf_counter()
        self.bar = tqdm(total=total, unit="point", file=sys.stderr, dynamic_ncols=True,
                        disable=not (enabled and sys.stderr.isatty()))

    def step(self, n: int = 1) -> None:
        """``n`` more points are finished (computed or read back from a journal)."""
        self.bar.update(n)

    def abort(self) -> None:
        """The sweep stopped early: end the bar's line so that an error message starts clean."""
        self.bar.close()

    def close(self, computed: int, reused: int, dropped: int = 0) -> None:
        """End the bar and write the summary line: points computed, resumed, seconds taken.

        Parameters
        ----------
        computed, reused : int
            Points evaluated by this run, and points read back from the journal.
        dropped : int
            Torn journal lines dropped (their points were computed again).
        """
        self.bar.close()
        if not self.enabled:
            return
        extra = f", {reused} resumed" if reused else ""
        if dropped:
            extra += f", {dropped} torn journal line{'s' if dropped > 1 else ''} dropped and recomputed"
        sys.stderr.write(f"explore: {computed} points in {time.perf_counter() - self.t0:.2f} s{extra}\n")
