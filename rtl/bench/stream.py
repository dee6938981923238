"""Valid/ready stream driver (source) and monitor (sink), one clock cycle at a time.

Hardware terms: a :class:`StreamSource` is the producer side of an ``amaranth.lib.stream``
interface (it drives ``valid`` and ``payload`` and sees ``ready``); a :class:`StreamSink` is the
consumer (it drives ``ready`` and sees ``valid`` and ``payload``). A transfer happens in a cycle
where both ``valid`` and ``ready`` are high. Both follow the stream rules: a source never
withdraws ``valid`` or changes the payload before the transfer; a sink may change ``ready`` at
will.
"""

from __future__ import annotations


class StreamSource:
    """Offers a list of payloads, one per transfer, with idle gaps before each.

    Parameters
    ----------
    gaps : sequence of int, optional
        Idle cycles before beat ``k`` is offered (``gaps[k % len(gaps)]``), counted from the
        cycle after the previous transfer (or after :meth:`arm`'s cycle for the first beat).
    """

    def __init__(self, gaps=()):
        self.gaps = tuple(int(g) for g in gaps)
        self.beats = []
        self.index = 0
        self.offer_cycle = None
        self.transfer_cycles = []

    def _gap(self, k):
        return self.gaps[k % len(self.gaps)] if self.gaps else 0

    def arm(self, beats, cycle):
        """Start offering ``beats`` after ``cycle`` (the first from ``cycle + 1 + gap(0)``)."""
        self.beats = list(beats)
        self.index = 0
        self.transfer_cycles = []
        self.offer_cycle = cycle + 1 + self._gap(0)

    @property
    def done(self) -> bool:
        return self.index >= len(self.beats)

    def drive(self, cycle):
        """(valid, payload) to drive in ``cycle``."""
        if self.done or self.offer_cycle is None or cycle < self.offer_cycle:
            return 0, 0
        return 1, self.beats[self.index]

    def observe(self, cycle, ready) -> bool:
        """Record the cycle's ``ready``; True when a transfer happened."""
        valid, _ = self.drive(cycle)
        if not (valid and ready):
            return False
        self.transfer_cycles.append(cycle)
        self.index += 1
        self.offer_cycle = cycle + 1 + self._gap(self.index)
        return True


class StreamSink:
    """Accepts transfers with ``ready`` following a repeated pattern of booleans.

    Parameters
    ----------
    ready : sequence of bool, optional
        ``ready`` in cycle ``c`` is ``ready[(c - origin) % len(ready)]``; empty means always.
    """

    def __init__(self, ready=()):
        self.ready = tuple(bool(r) for r in ready)
        self.origin = 0
        self.payloads = []
        self.transfer_cycles = []

    def arm(self, cycle):
        """Restart the pattern at ``cycle`` and forget earlier transfers."""
        self.origin = cycle
        self.payloads = []
        self.transfer_cycles = []

    def drive(self, cycle) -> int:
        if not self.ready:
            return 1
        return int(self.ready[(cycle - self.origin) % len(self.ready)])

    def observe(self, cycle, valid, payload) -> bool:
        if not (valid and self.drive(cycle)):
            return False
        self.payloads.append(payload)
        self.transfer_cycles.append(cycle)
        return True
