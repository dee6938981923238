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
"""

from __future__ import annotations

from arch.errors import SimulationError
from sim.des.issue import issue, issue_recorded, issue_timeline
from sim.des.program import EAGER_PERIOD, PhaseProgram

#: A block is the smallest number of whole super-periods spanning at least this many iterations.
BLOCK_ITERATIONS = 32
#: Longest window (in blocks) tried by the per-component certificate.
MAX_WINDOW_BLOCKS = 8


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
    window in blocks, the shift and the kind of certificate used).
    """
    name = pp.phase.name
    pp.reset(t0)
    for u in range(len(free)):
        free[u] = t0
    n, P = pp.n, pp.period
    per_block = max(1, -(-BLOCK_ITERATIONS // P))
    L = per_block * P
    blocks, rem = divmod(n, L)
    ops_period = pp.ops_per_period()
    block_ops = ops_period * per_block
    block_progs = [pp.program(r) for r in range(P)] * per_block if P <= EAGER_PERIOD and blocks else None
    out = dict(simulated_steps=0, extrapolated_steps=0, verified_steps=0, regime=None)

    def run_block(k):
        budget.spend(block_ops, name)
        progs = block_progs if block_progs is not None else pp.programs(k * L, (k + 1) * L)
        if timeline is not None and timeline.room():
            issue_timeline(progs, free, k * L, timeline.events, phase_index)
        else:
            issue(progs, free)
        pp.trim()
        out["simulated_steps"] += block_ops

    k = 0
    if not pp.live_tasks:  # nothing runs: the phase takes no time
        out["end"] = t0
        return out
    if fast_forward and blocks >= 2:
        k = _search(pp, free, budget, run_block, blocks, block_ops, per_block, out)
    while k < blocks:
        run_block(k)
        k += 1
    if rem:
        tail_ops = sum(len(pp.program(i % P)) for i in range(rem))
        budget.spend(tail_ops, name)
        progs = pp.programs(blocks * L, n)
        if timeline is not None and timeline.room():
            issue_timeline(progs, free, blocks * L, timeline.events, phase_index)
        else:
            issue(progs, free)
        out["simulated_steps"] += tail_ops
    h = pp.histories
    out["end"] = max([h[k][-1] for k in pp.live_tasks], default=t0)
    if timeline is not None and timeline.limit is not None and len(timeline.events) > timeline.limit:
        del timeline.events[timeline.limit:]
        timeline.truncated = True
    return out


def _state(pp, free) -> tuple:
    x = [free[u] for u in pp.units]
    h = pp.histories
    for k in pp.live_tasks:
        x.extend(h[k])
    return tuple(x)


def _restore(pp, free, x):
    pos = 0
    for u in pp.units:
        free[u] = x[pos]
        pos += 1
    h, depth = pp.histories, pp.depth
    for k in pp.live_tasks:
        h[k][:] = x[pos:pos + depth[k]]
        pos += depth[k]


def _search(pp, free, budget, run_block, blocks, block_ops, per_block, out) -> int:
    """Simulate blocks until a certificate holds, jump, and return the next block to simulate."""
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
            return _jump(pp, free, x, [d] * len(x), c, k, blocks, block_ops, per_block, out, "pure shift")
        seen[norm] = k
        if k < retry_at:
            continue
        for c in range(1, min(MAX_WINDOW_BLOCKS, k // 2) + 1):
            a, b = samples[k - c], samples[k - 2 * c]
            D = [xi - ai for xi, ai in zip(x, a)]
            if D != [ai - bi for ai, bi in zip(a, b)]:
                continue
            if _verify(pp, free, b, x, c, block_ops, per_block, budget, out):
                return _jump(pp, free, x, D, c, k, blocks, block_ops, per_block, out, "per-unit growth")
            retry_at, gap = k + max(gap, 2 * c), gap * 2
            break
    return k


def _verify(pp, free, start, expect, c, block_ops, per_block, budget, out) -> bool:
    """Re-simulate two windows of ``c`` blocks from ``start``; check the growth certificate."""
    budget.spend(2 * c * block_ops, pp.phase.name)
    out["verified_steps"] += 2 * c * block_ops
    P = pp.period
    _restore(pp, free, start)
    windows = []
    for _w in range(2):
        rec = []
        for _b in range(c):
            issue_recorded(pp.programs(0, P * per_block), free, rec)
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


def _jump(pp, free, x, D, c, k, blocks, block_ops, per_block, out, kind) -> int:
    m = (blocks - k) // c
    if m > 0:
        _restore(pp, free, tuple(v + m * d for v, d in zip(x, D)))
        out["extrapolated_steps"] += m * c * block_ops
    out["regime"] = dict(window_blocks=c, block_iterations=pp.period * per_block,
                         shift_cycles=max(D) if D else 0, certificate=kind, found_after_blocks=k)
    return k + m * c
