"""Fast-forward: simulate a phase until its schedule repeats, then extrapolate it exactly.

Why it is exact. With in-order issue the timing of a phase is a max-plus linear recurrence: the
state after a block of whole super-periods (``x``: the free time of every unit of the phase and
the ready times of the last instances each dependency can still reach) is ``x' = A (x) x``
where ``(x)`` is the max-plus product and ``A`` the same for every block, because the issue
programs depend only on the iteration modulo the super-period (``sim/des/program.py``). Two
certificates are used, checked on sampled states at block boundaries:

1. *Pure time shift.* If ``x(k) = x(k') + d`` for one scalar ``d`` (``k' < k``), then, since a
   max-plus map is homogeneous (``A (x) (x + d) = A (x) x + d``), ``x(k + j) = x(k' + j) + d``
   for every ``j``: the schedule repeats with period ``c = k - k'`` blocks and shift ``d``, and
   ``x(k + m c) = x(k) + m d`` exactly. Detected by a dictionary of normalized states.
2. *Per-component linear growth* (a unit that runs ahead of the others without back-pressure:
   a reducible system whose parts grow at different rates, so no pure shift ever appears). If
   ``x(k) - x(k-c) = x(k-c) - x(k-2c) = D`` (a vector), the two windows are re-simulated
   recording every max-plus step ``end = max(args) + cycles``, and each step is checked: every
   argument grows by at most what its result grows. Then, by induction over windows, every
   value keeps growing by its own increment (the argument that won keeps winning, a loser never
   catches up), so ``x(k + m c) = x(k) + m D`` exactly.

Extrapolation jumps over whole windows only; the leftover blocks and the last partial
super-period are simulated. The phase end is the largest ready time of the last instance of
each task (ready times of one task never decrease), read from the final state.

*Between rare tasks.* A task that runs once every ``RARE_EVERY`` or more iterations (a weight
panel reloaded once per 262,144 tiles) makes the super-period as long as the phase: no whole
super-period is left to jump over. Outside the *windows* of the rare tasks (the iterations where
one runs, or where a program still tells it apart: ``PhaseProgram.guard_terms``) every
iteration's program is the one of its residue modulo the short period ``p`` of the frequent
tasks. So each run between two windows is a phase of period ``p`` of its own: blocks of whole
``p``-periods, the same two certificates on the states at block boundaries, a jump that stops
before the run's end, then the rest of the run and the window simulated. The values the rare
tasks left behind (their ready times, the taps their far dependencies read) are components that
grow by 0 in the per-component certificate; its step check covers them like any other
argument (a constant that would catch up with a growing result fails it, and the run is then
simulated further). The
regime is chosen when its estimated work (:data:`RUN_SEARCH_BLOCKS` blocks per run) is below
that of whole super-periods; both are exact.
"""

from __future__ import annotations

import math

from arch.errors import SimulationError
from sim.des.issue import issue, issue_recorded, issue_timeline
from sim.des.program import EAGER_PERIOD, PhaseProgram, count_in

#: A block is the smallest number of whole super-periods spanning at least this many iterations.
BLOCK_ITERATIONS = 32


def periods_per_block(period: int) -> int:
    """Whole periods of ``period`` iterations in a block (:data:`BLOCK_ITERATIONS`)."""
    return max(1, -(-BLOCK_ITERATIONS // period))
#: Longest window (in blocks) tried by the per-component certificate.
MAX_WINDOW_BLOCKS = 8
#: A task is rare when it runs at most once every this many iterations.
RARE_EVERY = 1024
#: Blocks a run between rare instances is assumed to need before its certificate holds (the
#: estimate that chooses between the two regimes; either is exact).
RUN_SEARCH_BLOCKS = 8


class Budget:
    """Task instances the engine may still issue (simulated and verification work)."""

    def __init__(self, steps: int):
        self.left = int(steps)
        self.total = int(steps)
        self.used = 0

    def spend(self, n: int, phase_name: str):
        if n > self.left:
            raise SimulationError(
                f"phase {phase_name!r}: the simulation needs more than the budget of {self.total} "
                f"task steps (used {self.used}) before its schedule repeats; raise budget_steps, "
                f"or use the analytical engine (--engine analytical)")
        self.left -= n
        self.used += n


#: Most task instances written to a trace file (the first ones simulated; ~100 MB of JSON).
TRACE_LIMIT = 1_000_000


class Timeline:
    """Recorded task instances ``(phase, task, unit, iteration, start, end)``, up to ``limit``."""

    def __init__(self, limit: int | None):
        self.limit = limit
        self.events = []
        self.truncated = False

    def room(self) -> bool:
        if self.limit is not None and len(self.events) >= self.limit:
            self.truncated = True
            return False
        return True


def simulate_phase(pp: PhaseProgram, free: list, t0: int, budget: Budget, timeline: Timeline,
                   phase_index: int, fast_forward: bool) -> dict:
    """Simulate (and, if allowed, fast-forward) one phase starting at cycle ``t0``.

    Returns a dict with ``end`` (cycle at which the phase's last result is ready),
    ``simulated_steps``, ``extrapolated_steps``, ``verified_steps`` and ``regime`` (None, or the
    window in blocks, the shift and the kind of certificate used; between rare tasks also the
    short period and the number of runs fast-forwarded).
    """
    pp.reset(t0)
    for u in range(len(free)):
        free[u] = t0
    out = dict(simulated_steps=0, extrapolated_steps=0, verified_steps=0, regime=None)
    if not pp.live_tasks:  # nothing runs: the phase takes no time
        out["end"] = t0
        return out
    iss = _Issuer(pp, free, budget, timeline, phase_index, out)
    split = rare_regime(pp) if fast_forward else None
    if split is not None:
        _between_rare(iss, *split)
    else:
        _super_periods(iss, fast_forward)
    h = pp.histories
    out["end"] = max([h[k][-1] for k in pp.live_tasks], default=t0)
    if timeline is not None and timeline.limit is not None and len(timeline.events) > timeline.limit:
        del timeline.events[timeline.limit:]
        timeline.truncated = True
    return out


class _Issuer:
    """Issues programs of one phase: budget, timeline, trimming and the step count."""

    def __init__(self, pp, free, budget, timeline, phase_index, out):
        self.pp, self.free, self.budget, self.out = pp, free, budget, out
        self.timeline, self.phase_index = timeline, phase_index

    def run(self, progs, first_iteration: int, ops: int):
        """Issue ``progs`` (``ops`` task instances) from iteration ``first_iteration``."""
        self.budget.spend(ops, self.pp.phase.name)
        tl = self.timeline
        if tl is not None and tl.room():
            issue_timeline(progs, self.free, first_iteration, tl.events, self.phase_index)
        else:
            issue(progs, self.free)
        self.pp.trim()
        self.out["simulated_steps"] += ops

    def span(self, start: int, stop: int):
        """Issue iterations ``start .. stop-1``."""
        for a in range(start, stop, SPAN_CHUNK):
            progs = list(self.pp.programs(a, min(stop, a + SPAN_CHUNK)))
            self.run(progs, a, sum(map(len, progs)))


#: Iterations issued between two trims of the histories when simulating a span.
SPAN_CHUNK = 4096


def _super_periods(iss, fast_forward: bool):
    """Blocks of whole super-periods, fast-forwarded once a certificate holds; then the rest."""
    pp = iss.pp
    n, P = pp.n, pp.period
    per_block = periods_per_block(P)
    L = per_block * P
    blocks = n // L
    block_ops = pp.ops_per_period() * per_block
    if P <= EAGER_PERIOD and blocks:
        same = [pp.program(r) for r in range(P)] * per_block

        def progs_of(k):
            return same
    else:
        def progs_of(k):
            return pp.programs(k * L, (k + 1) * L)

    def run_block(k):
        iss.run(progs_of(k), k * L, block_ops)

    k = 0
    if fast_forward and blocks >= 2:
        k, iss.out["regime"] = _search(iss, run_block, blocks, block_ops, lambda: progs_of(0), L)
    while k < blocks:
        run_block(k)
        k += 1
    iss.span(blocks * L, n)


def rare_regime(pp: PhaseProgram):
    """``(p, terms)`` when the phase is to run between rare tasks, else None.

    ``p`` is the short period of the frequent tasks (``every`` below :data:`RARE_EVERY`),
    ``terms`` the guard terms ``(offset, every, window)`` whose ``every`` does not divide ``p``:
    outside their windows (iterations ``i`` with ``(i - offset) % every < window``) an
    iteration's program depends only on ``i % p`` (``PhaseProgram.guard_terms``). Chosen when
    its estimated work, :data:`RUN_SEARCH_BLOCKS` blocks per run plus the windows (iterations),
    is below that of whole super-periods (at least the phase or three blocks of them).
    """
    p = math.lcm(*[t.every for t in pp.tasks if t.every < RARE_EVERY])
    terms = [g for g in pp.guard_terms if p % g[1]]
    if not terms or p > EAGER_PERIOD:
        return None
    L = periods_per_block(pp.period) * pp.period
    windows, inside = window_counts(pp.n, terms)
    if (windows + 1) * RUN_SEARCH_BLOCKS * periods_per_block(p) * p + inside >= min(pp.n, 3 * L):
        return None
    return p, terms


def window_counts(n: int, terms) -> tuple:
    """(windows, window iterations) of the rare ``terms`` over iterations ``0 .. n-1``."""
    return (sum(count_in(n, o, e) for o, e, _c in terms), sum(count_in(n, o, e) * c for o, e, c in terms))


def stretches(terms, n: int):
    """Iterations ``0 .. n-1`` cut at the windows of the rare ``terms``: ``(start, stop, in_window)``
    in order, a window iteration alone (``stop = start + 1``), the iterations between two
    windows as one stretch."""
    i = 0
    while i < n:
        s = min(_next_window(terms, i), n)
        if s == i:
            yield i, i + 1, True
            i += 1
        else:
            yield i, s, False
            i = s


def _next_window(terms, i: int) -> int:
    """The first iteration from ``i`` on that lies in the window of a rare term."""
    best = None
    for o, e, c in terms:
        pos = (i - o) % e
        j = i if pos < c else i + e - pos
        if best is None or j < best:
            best = j
    return best


def _between_rare(iss, p, terms):
    """Runs of ``p``-periodic iterations between the windows of rare tasks: each run is
    fast-forwarded in blocks of ``p``-periods up to its end; the windows are simulated."""
    pp = iss.pp
    n, P = pp.n, pp.period
    L = periods_per_block(p) * p
    jumped, first = 0, None
    for i, s, in_window in stretches(terms, n):
        blocks = 0 if in_window else (s - i) // L
        if blocks >= 2:
            progs = [pp.program(j % P) for j in range(i, i + L)]
            ops = sum(map(len, progs))

            def run_block(k, start=i):
                iss.run(progs, start + k * L, ops)

            k, regime = _search(iss, run_block, blocks, ops, lambda: progs, L)
            if regime is not None:
                jumped += 1
                first = first or regime
            while k < blocks:
                run_block(k)
                k += 1
            i += blocks * L
        iss.span(i, s)
    if first is not None:
        iss.out["regime"] = dict(first, rare_period=p, runs_fast_forwarded=jumped)


def _state(pp, free) -> tuple:
    x = [free[u] for u in pp.units]
    h = pp.histories
    for k in pp.live_slots:
        x.extend(h[k])
    return tuple(x)


def _restore(pp, free, x):
    pos = 0
    for u in pp.units:
        free[u] = x[pos]
        pos += 1
    h, depth = pp.histories, pp.depth
    for k in pp.live_slots:
        h[k][:] = x[pos:pos + depth[k]]
        pos += depth[k]


def _search(iss, run_block, blocks, block_ops, block_programs, block_iterations) -> tuple:
    """Simulate blocks until a certificate holds and jump; return the next block to simulate
    and the regime found (None if none).

    Every block issues the same programs (``block_programs()``, ``block_ops`` instances).
    """
    pp, free = iss.pp, iss.free
    samples = [_state(pp, free)]
    seen = {tuple(v - samples[0][0] for v in samples[0]): 0}
    retry_at, gap = 0, 1  # after a failed verification, wait twice as long before the next
    k = 0
    while k < blocks:
        run_block(k)
        k += 1
        x = _state(pp, free)
        samples.append(x)
        norm = tuple(v - x[0] for v in x)
        k0 = seen.get(norm)
        if k0 is not None:
            c, d = k - k0, x[0] - samples[k0][0]
            return _jump(iss, x, [d] * len(x), c, k, blocks, block_ops, block_iterations, "pure shift")
        seen[norm] = k
        if k < retry_at:
            continue
        for c in range(1, min(MAX_WINDOW_BLOCKS, k // 2) + 1):
            a, b = samples[k - c], samples[k - 2 * c]
            D = [xi - ai for xi, ai in zip(x, a)]
            if D != [ai - bi for ai, bi in zip(a, b)]:
                continue
            if _verify(iss, b, x, c, block_ops, block_programs):
                return _jump(iss, x, D, c, k, blocks, block_ops, block_iterations, "per-unit growth")
            retry_at, gap = k + max(gap, 2 * c), gap * 2
            break
    return k, None


def _verify(iss, start, expect, c, block_ops, block_programs) -> bool:
    """Re-simulate two windows of ``c`` blocks from ``start``; check the growth certificate."""
    pp, free = iss.pp, iss.free
    iss.budget.spend(2 * c * block_ops, pp.phase.name)
    iss.out["verified_steps"] += 2 * c * block_ops
    _restore(pp, free, start)
    windows = []
    for _w in range(2):
        rec = []
        for _b in range(c):
            issue_recorded(block_programs(), free, rec)
            pp.trim()
        windows.append(rec)
    if _state(pp, free) != expect:  # the recurrence is deterministic: a mismatch is a bug
        raise SimulationError(f"phase {pp.phase.name!r}: fast-forward re-simulation diverged")
    for a1, a2 in zip(*windows):
        grow = a2[-1] - a1[-1]
        for j in range(len(a1) - 1):
            if a2[j] - a1[j] > grow:
                return False
    return True


def _jump(iss, x, D, c, k, blocks, block_ops, block_iterations, kind) -> tuple:
    m = (blocks - k) // c
    if m > 0:
        _restore(iss.pp, iss.free, tuple(v + m * d for v, d in zip(x, D)))
        iss.out["extrapolated_steps"] += m * c * block_ops
    regime = dict(window_blocks=c, block_iterations=block_iterations, shift_cycles=max(D) if D else 0,
                  certificate=kind, found_after_blocks=k)
    return k + m * c, regime
