"""The max-plus recurrence of a long guarded pipeline, on the state values it actually reads.

In hardware terms: a pipeline whose prologue or epilogue step (a Q tile load, an output store)
runs once every ``P`` iterations and waits on a tile issued a whole super-period earlier. The
recurrence of :mod:`sim.maxplus` then keeps every ready cycle of that super-period in its
state (``S`` of 1,000 to 4,000 values: too many for dense matrices), though a super-period
reads only a dozen of them. This module evaluates such a phase exactly, in three steps:

1. **Read positions** ``R``: the state values a super-period reads or carries to its end (every
   other column of its matrix ``A`` is ``-inf``). Found from the compiled issue program run by
   run (a run is a stretch of iterations with the same program), without issuing anything: an
   op that waits ``b`` instances back on a task pushed ``c`` times since the super-period
   start reads the start value ``b - c`` back, and a history entry survives the super-period
   when fewer pushes than its depth follow it. So ``x_R((k + 1) P) = A_RR (x) x_R(k P)``.
2. ``A_RR`` from one pass of the issue program over a super-period on vectors of ``|R|``
   values. A long run of the unguarded program ``p`` is not issued iteration by iteration:
   ``p`` reads a few recent values (its *local* state ``L``: unit free times and the history
   entries it waits on), so the run's ``k`` iterations act on ``L`` as ``A_p^k``, computed by
   repeated squaring of the ``|L| x |L|`` matrix of one iteration; the older ready cycles the
   run leaves in its histories (row ``L(t, 0)`` of ``A_p^j (x) x_L`` for the newest of task
   ``t`` after ``j`` iterations) are computed only when something reads them.
3. ``A_RR^m (x) 0`` for the ``m`` whole super-periods but one (:func:`sim.maxplus._power_vec`),
   then the remaining 1 to ``P`` iterations by the same pass on vectors of one value.

Cost: ``O(T P)`` to list the runs, plus per run ``O(|L|^3 log k)``, instead of ``O(T P |R|)``.
Every value is an integer number of cycles held in float64, as in :mod:`sim.maxplus`.
"""

from __future__ import annotations

import numpy as np

from sim.maxplus import Recurrence, _mp, _power_vec, exact_cycles
from sim.taskgraph import Phase

#: Runs of at least this many iterations are advanced by matrix powers, shorter ones issued.
SKIP_RUN = 16


class _Later:
    """A ready cycle issued inside a skipped run, computed when first read: row ``pos`` of
    ``A_p^m (x) x_L`` (``run``: the powers of ``A_p`` and ``x_L``)."""

    __slots__ = ("run", "pos", "m")

    def __init__(self, run, pos: int, m: int):
        self.run, self.pos, self.m = run, pos, m

    def value(self):
        return self.run.row(self.pos, self.m)


class _Powers:
    """``A, A^2, A^4, ...`` of one run's local matrix, with the local state ``x_L`` it started
    from (``|L|`` rows of cycles)."""

    def __init__(self, a, x):
        self.squares, self.x = [a], x

    def square(self, b: int):
        """``A^(2^b)``."""
        sq = self.squares
        while len(sq) <= b:
            sq.append(_mp(sq[-1], sq[-1]))
        return sq[b]

    def apply(self, k: int):
        """``A^k (x) x_L``."""
        y, b = self.x, 0
        while k:
            if k & 1:
                y = _mp(self.square(b), y)
            k >>= 1
            b += 1
        return y

    def row(self, pos: int, m: int):
        """Row ``pos`` of ``A^m (x) x_L``: a row vector times the squares, then ``x_L``."""
        v, b = np.full(len(self.x), -np.inf), 0
        v[pos] = 0.0
        while m:
            if m & 1:
                v = (v[:, None] + self.square(b)).max(axis=0)
            m >>= 1
            b += 1
        return (v[:, None] + self.x).max(axis=0)


def _now(v):
    return v.value() if type(v) is _Later else v


def _issue(prog, free: list) -> None:
    """One iteration of ``prog`` on vectors (:func:`sim.des.issue.issue` in max-plus form),
    computing the skipped values it reads."""
    mx = np.maximum
    for hist, u, cyc, lat, deps, _k in prog:
        t = free[u]
        for h, j in deps:
            v = h[j]
            if type(v) is _Later:
                v = h[j] = v.value()
            t = mx(t, v)
        t = t + cyc
        free[u] = t
        hist.append(t + lat if lat else t)


def _pushes(hist) -> list:
    """The histories an op appends to: its task's, and its taps' (``sim/des/program.py``)."""
    return getattr(hist, "lists", None) or [hist]


def _local(prog, hist_task: dict):
    """The local state of ``prog``: per history, how many newest entries it reads or pushes
    (histories absent are neither read nor pushed), and how many entries one pass of ``prog``
    pushes on each history it pushes (more than one when ``prog`` spans several iterations)."""
    reach, pushed = {}, {}
    for hist, _u, _c, _l, deps, _k in prog:
        for h, j in deps:
            t = hist_task[id(h)]
            reach[t] = max(reach.get(t, 1), -j)   # j = -1 - back: entries back..0 read
        for h in _pushes(hist):
            t = hist_task[id(h)]
            pushed[t] = pushed.get(t, 0) + 1
            reach[t] = max(reach.get(t, 1), pushed[t])
    return reach, pushed


def _skip(pp, prog, k: int, free: list, hist_task: dict) -> None:
    """Advance ``free`` and the histories over ``k`` iterations of ``prog`` by powers of its
    matrix on its local state (module docstring, step 2)."""
    reach, pushed = _local(prog, hist_task)
    n_units = len(free)
    where = {}
    for t, d in reach.items():
        for i in range(d):
            where[t, i] = n_units + len(where)
    size = n_units + len(where)
    saved_free, saved = list(free), {t: pp.histories[t][:] for t in reach}
    gone = np.full_like(np.asarray(saved_free[0], dtype=float), -np.inf)  # pushed over, never read
    x = np.array([saved_free[u] for u in range(n_units)]
                 + [_now(saved[t][-1 - i]) if i < len(saved[t]) else gone for (t, i) in where])
    eye = np.full((size, size), -np.inf)
    np.fill_diagonal(eye, 0.0)
    free[:] = list(eye[:n_units])
    for t, d in reach.items():
        pp.histories[t][:] = [eye[where[t, i]] for i in reversed(range(d))]
    _issue(prog, free)
    a = np.array(free + [pp.histories[t][-1 - i] for (t, i) in where])
    run = _Powers(a, x)
    y = run.apply(k)
    free[:] = list(y[:n_units])
    for t, d in reach.items():
        hist, old = pp.histories[t], saved[t]
        if t not in pushed:
            hist[:] = old
            continue
        per, entries = pushed[t], []
        for i in range(pp.depth[t]):    # newest first
            back, w = divmod(i, per)     # pushed ``back`` passes before the end, w-th newest
            if i < d:
                entries.append(y[where[t, i]])
            elif back < k:
                entries.append(_Later(run, where[t, w], k - back))
            else:
                entries.append(old[-1 - (i - k * per)])
        hist[:] = entries[::-1]


def advance(pp, runs, free: list) -> None:
    """Issue ``runs`` ((program, repetitions) in order) on the vector state ``free`` and
    ``pp.histories``, long runs by matrix powers; histories trimmed to their depth."""
    hist_task = {id(h): t for t, h in enumerate(pp.histories)}
    for prog, k in runs:
        if k >= SKIP_RUN:
            _skip(pp, prog, k, free, hist_task)
        else:
            for _ in range(k):
                _issue(prog, free)
            pp.trim()


def read_positions(rec: Recurrence, runs) -> list:
    """State positions a super-period of ``runs`` reads or carries to its end (module
    docstring, step 1), in increasing order."""
    pp = rec.program
    hist_task = {id(h): t for t, h in enumerate(pp.histories)}
    pushes = [0] * len(pp.histories)
    read = set(range(rec.n_units))

    def at(t, i):   # state position of the entry i back from the newest at the start
        return rec.offsets[t] + pp.depth[t] - 1 - i

    for prog, k in runs:
        in_prog = {op[5] for op in prog}
        for _h, _u, _c, _l, deps, op_task in prog:
            for h, j in deps:
                t = hist_task[id(h)]
                top = -1 - j - pushes[t]          # read in the first repetition
                low = top - (k - 1) if t in in_prog else top
                read.update(at(t, i) for i in range(max(low, 0), top + 1))
            pushes[op_task] += 1
        for t in in_prog:
            pushes[t] += k - 1
    for t, d in enumerate(pp.depth):
        read.update(at(t, i) for i in range(max(d - pushes[t], 0)))
    return sorted(read)


def reduced_cycles(phase: Phase) -> int:
    """Cycles of ``phase`` (from its start to its last result) through the super-period's
    matrix on the state positions a super-period reads (module docstring); equal to the
    discrete-event engine's cycles."""
    rec = Recurrence(phase)
    pp, P, n = rec.program, rec.program.period, phase.iterations
    if not pp.live_tasks:
        return 0
    free = [None] * rec.n_units

    def place(value, R):
        # state position i -> value(c) for i = R[c], value(None) elsewhere (never read)
        where = {i: c for c, i in enumerate(R)}
        flat = [value(where.get(i)) for i in range(rec.size)]
        free[:] = flat[:rec.n_units]
        for t, hist in enumerate(pp.histories):
            o = rec.offsets[t]
            hist[:] = flat[o:o + pp.depth[t]]

    m = max(0, (n - 1) // P)   # whole super-periods by the matrix; 1..P iterations after
    if m:
        runs = rec.runs(0, P)
        # the positions a super-period reads, plus each live task's newest entry: the phase
        # ends at the latest result, which may be one nothing reads (ready times of one task
        # only grow, so its newest entry is its latest)
        newest = {rec.offsets[t] + pp.depth[t] - 1 for t in pp.live_tasks}
        R = sorted(set(read_positions(rec, runs)) | newest)
        eye = np.full((len(R), len(R)), -np.inf)
        np.fill_diagonal(eye, 0.0)
        none = np.full(len(R), -np.inf)
        place(lambda c: none if c is None else eye[c], R)
        advance(pp, runs, free)
        flat = free + [v for hist in pp.histories for v in hist]
        x = _power_vec(np.array([_now(flat[i]) for i in R]), m, np.zeros(len(R)))
        never = np.full(1, -np.inf)   # one shared value: entries are replaced, never changed in place
        place(lambda c: never if c is None else np.full(1, x[c]), R)
    else:   # every unit free and every history ready at the phase start
        place(lambda c: np.zeros(1), ())
    advance(pp, rec.runs(0, n - m * P), free)
    return exact_cycles(phase, newest_ready(pp))


def newest_ready(pp) -> float:
    """The latest ready cycle among the newest entries of the live tasks' histories (one-value
    vectors): the phase's end once its runs are issued."""
    return max(float(_now(pp.histories[t][-1])[0]) for t in pp.live_tasks)
