"""The max-plus recurrence of a phase: one iteration of a loop body as a matrix.

In hardware terms every unit (a PE array, a DRAM channel, a buffer port) issues its tile tasks
in program order; an instance starts when its unit is free and every result it waits for is
ready, holds the unit for ``cycles`` and delivers its result ``latency`` cycles later
(``sim/taskgraph.py``). Those rules make the timing of a phase a max-plus linear recurrence::

    x(i + 1) = A_r (x) x(i),      (A (x) x)_a = max_b (A[a, b] + x_b)

where the state ``x`` holds the cycle at which each unit becomes free and the ready cycles of
the last instances each dependency can still reach (the state ``sim/des/fastforward.py``
samples), and ``A_r`` depends only on the iteration's residue ``r`` modulo the super-period
``P`` (the lcm of the tasks' ``every``). Its entries are longest paths through one iteration:
same-iteration data dependencies (producer cycles + latency), loop-carried ones of any distance
(a running max; a buffer of ``k`` slots whose load waits for the consumer of the tile ``k``
back), each unit's program order, DRAM latency. ``A_r`` is obtained by running the issue
program of the discrete-event engine (``sim/des/program.py``) once on max-plus unit vectors
instead of cycles, so both engines step through the same recurrence by construction. The
matrix of a super-period is ``A = A_{P-1} (x) ... (x) A_0``.

- The state after ``n = m P + q`` iterations is ``A_0..A_{q-1} (x) A^m (x) 0`` (every unit
  free and every history ready at the phase start). ``A^m (x) 0`` is stepped until the state
  repeats up to a constant shift (then the rest follows exactly, as in the discrete-event
  engine's fast-forward), else computed by repeated squaring: at most ``O(S^3 log n)`` for a
  state of ``S`` values, whatever ``n``.
- The steady-state cycles per iteration (the *period*) are the maximum cycle mean of ``A``
  divided by ``P`` (Karp's theorem): the rate at which the discrete-event engine's fast-forward
  sees the schedule repeat. With a load of ``L`` cycles, DRAM latency ``lat``, a compute of
  ``C`` cycles and two buffer slots it is ``max(L, C, (L + lat + C) / 2)``.

Cycles are integers held in float64 (exact below 2^53; larger totals are refused).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from arch.errors import SimulationError
from sim.des.issue import issue
from sim.des.program import PhaseProgram, local_units
from sim.taskgraph import Phase

#: Largest cycle count a float64 holds exactly (2^53).
EXACT_CYCLES = float(1 << 53)
#: Steps of ``A^k x`` tried for a repeating state before repeated squaring; longest repeat tried.
_WARM = 24
_MAX_CYCLICITY = 4
#: Largest ``S^3`` of sums a matrix product materialises at once (32 MB of float64).
_MP_CUBE = 1 << 22


def _mp(a, b):
    """Max-plus matrix product ``a (x) b``: ``[i, j] = max_k a[i, k] + b[k, j]`` (row by row
    when the cube of sums would exceed ``_MP_CUBE`` values)."""
    if a.shape[0] * a.shape[1] * b.shape[1] <= _MP_CUBE:
        return (a[:, :, None] + b[None, :, :]).max(axis=1)
    return np.array([(row[:, None] + b).max(axis=0) for row in a])


def _mp_vec(a, v):
    """Max-plus matrix-vector product ``a (x) v``."""
    return (a + v[None, :]).max(axis=1)


def _power_vec(a, m: int, v):
    """``a^m (x) v`` (``m >= 0``).

    Steps ``v, a v, a^2 v, ...`` until one is another plus a scalar, ``a^k v = a^(k-c) v + d``:
    max-plus maps are homogeneous, so from there the sequence repeats every ``c`` steps with a
    shift of ``d`` and ``a^m v`` follows exactly. Without such a step within ``_WARM`` steps
    (a reducible system, units growing at different rates), repeated squaring."""
    seen = [v]
    for k in range(1, min(m, _WARM) + 1):
        v = _mp_vec(a, v)
        for c in range(1, min(k, _MAX_CYCLICITY) + 1):
            d = v - seen[k - c]
            if d.max() == d.min():
                q, r = divmod(m - k + c, c)
                return seen[k - c + r] + q * d[0]
        seen.append(v)
    return _power_vec_squaring(a, m - min(m, _WARM), v)


def _power_vec_squaring(a, m: int, v):
    """``a^m (x) v`` by repeated squaring (``m >= 0``)."""
    while m:
        if m & 1:
            v = _mp_vec(a, v)
        m >>= 1
        if m:
            a = _mp(a, a)
    return v


def _power(a, m: int):
    """``a^m`` (``m >= 1``) by repeated squaring."""
    out = None
    while m:
        if m & 1:
            out = a if out is None else _mp(a, out)
        m >>= 1
        if m:
            a = _mp(a, a)
    return out


class Recurrence:
    """The max-plus recurrence of one phase: its state layout and per-iteration matrices.

    Parameters
    ----------
    phase : Phase

    Attributes
    ----------
    program : PhaseProgram
        The issue programs the discrete-event engine runs (``sim/des/program.py``).
    size : int
        Values in the state ``x``: one free cycle per unit, then each task's history of ready
        cycles (oldest first).
    ends : list of int
        State positions of the newest ready cycle of every task that runs in the phase.
    """

    def __init__(self, phase: Phase):
        self.phase = phase
        units = local_units(phase)
        self.program = pp = PhaseProgram(phase, units)
        self.n_units = len(units)
        self.offsets, pos = [], self.n_units
        for k in range(len(phase.tasks)):
            self.offsets.append(pos)
            pos += pp.depth[k]
        self.size = pos
        self.ends = [self.offsets[k] + pp.depth[k] - 1 for k in pp.live_tasks]
        self._matrices = {}

    def matrix(self, prog) -> np.ndarray:
        """The max-plus matrix of one iteration's program (cycles, S x S)."""
        got = self._matrices.get(id(prog))
        if got is None:
            S, pp = self.size, self.program
            eye = np.full((S, S), -np.inf)
            np.fill_diagonal(eye, 0.0)
            free = [eye[u] for u in range(self.n_units)]
            for k, hist in enumerate(pp.histories):
                o = self.offsets[k]
                hist[:] = [eye[o + j] for j in range(pp.depth[k])]
            _issue_rows(pp, (prog,), free)
            rows = free + [row for hist in pp.histories for row in hist]
            got = self._matrices[id(prog)] = (prog, np.array(rows))
        return got[1]

    def runs(self, start: int, stop: int):
        """(program, repetitions) of iterations ``start .. stop-1``, consecutive equal
        programs merged (a super-period of 4096 with a prologue and an epilogue is three runs)."""
        out = []
        for prog in self.program.programs(start, stop):
            if out and out[-1][0] is prog:
                out[-1][1] += 1
            else:
                out.append([prog, 1])
        return out

    def product(self, start: int, stop: int) -> np.ndarray | None:
        """The matrix of iterations ``start .. stop-1`` (None when empty)."""
        out = None
        for prog, count in self.runs(start, stop):
            a = _power(self.matrix(prog), count)
            out = a if out is None else _mp(a, out)
        return out

    def state_after(self, n: int) -> np.ndarray:
        """``x(n)`` from ``x(0) = 0`` (cycles, relative to the phase start)."""
        P = self.program.period
        m, q = divmod(n, P)
        x = np.zeros(self.size)
        if m:
            x = _power_vec(self.product(0, P), m, x)
        if q:
            x = _mp_vec(self.product(0, q), x)
        return x

    def period(self) -> Fraction:
        """Steady-state cycles per iteration: the maximum cycle mean of the super-period's
        matrix (Karp's theorem, from every state value at once) over the super-period."""
        P = self.program.period
        a = self.product(0, P)
        S = self.size
        walks = [np.zeros(S)]  # walks[k][v]: heaviest walk of k steps ending at v
        for _ in range(S):
            walks.append(_mp_vec(a, walks[-1]))
        best = None
        for v in range(S):
            top = walks[S][v]
            if top == -np.inf:
                continue
            worst = min((Fraction(int(top - walks[k][v]), S - k) for k in range(S) if walks[k][v] > -np.inf),
                        default=None)
            if worst is not None and (best is None or worst > best):
                best = worst
        return (best if best is not None else Fraction(0)) / P


def _issue_rows(pp, progs, free: list) -> None:
    """:func:`sim.des.issue.issue` on rows of a max-plus matrix (numpy vectors) instead of
    cycles; the histories trimmed at the end (ops index them from their newest entry)."""
    mx = np.maximum
    for prog in progs:
        for hist, u, cyc, lat, deps, _k in prog:
            t = free[u]
            for h, j in deps:
                t = mx(t, h[j])
            t = t + cyc
            free[u] = t
            hist.append(t + lat if lat else t)
    pp.trim()


def scalar_cycles(phase: Phase) -> int:
    """Cycles of a small phase, stepping every task instance in issue order."""
    units = local_units(phase)
    pp = PhaseProgram(phase, units)
    if not pp.live_tasks:
        return 0
    pp.reset(0)
    free = [0] * len(units)
    issue(pp.programs(0, phase.iterations), free)
    return max(pp.histories[k][-1] for k in pp.live_tasks)


def state_size_estimate(phase: Phase) -> int:
    """An upper estimate of the state size ``S`` of ``phase`` (without compiling it): one value
    per unit, and per task as many ready cycles as the farthest dependency on it reaches back."""
    depth = {t.name: 1 for t in phase.tasks}
    every = {t.name: t.every for t in phase.tasks}
    for t in phase.tasks:
        for d in t.deps:
            depth[d.task] = max(depth[d.task], d.distance // every[d.task] + 2)
    return len({t.unit for t in phase.tasks}) + sum(depth.values())


def matrix_cycles(phase: Phase, rec: "Recurrence | None" = None) -> int:
    """Cycles of ``phase`` from the closed form: the newest ready cycle of every task after
    ``phase.iterations`` iterations (``rec``: its recurrence, when already built)."""
    rec = rec or Recurrence(phase)
    if not rec.ends:
        return 0
    x = rec.state_after(phase.iterations)
    return exact_cycles(phase, max(x[e] for e in rec.ends))


def exact_cycles(phase: Phase, end: float) -> int:
    """``end`` (a phase's last ready cycle, from max-plus arithmetic on floats) as an integer;
    :class:`SimulationError` beyond the range where floats hold integers exactly (2^53)."""
    if end >= EXACT_CYCLES:
        raise SimulationError(f"phase {phase.name!r}: {end:.3e} cycles exceed the exact range of the max-plus evaluation (2^53)")
    return int(end)


def period(phase: Phase) -> Fraction:
    """Steady-state cycles per iteration of ``phase`` (a rational number): the maximum cycle
    mean of its super-period's matrix, divided by the super-period."""
    if not phase.tasks:
        return Fraction(0)
    if phase.iterations < phase.period:  # a whole super-period, for the steady state
        phase = Phase.trusted(phase.name, phase.tasks, phase.period)
    return Recurrence(phase).period()
