"""The max-plus recurrence of a phase whose super-period is long only because of rare tasks.

In hardware terms: a GEMM whose weights take several panels reloads a panel once every
``every`` tiles (262,144 at 1M tokens), so the super-period (the lcm of the tasks' ``every``)
is a large part of the phase, though between two panel loads every tile issues the same
program. A task is *rare* when it runs at most once every ``RARE_EVERY`` (1024) iterations
(:func:`sim.des.fastforward.rare_regime` decides, the same rule the discrete-event engine's
fast-forward uses). Outside the *windows* of the rare tasks (the iterations where one runs or
where a program still tells it apart, ``PhaseProgram.guard_terms``) the program of iteration
``i`` depends only on ``i % p``, ``p`` the short period of the frequent tasks.

So the phase is a short list of *runs*, written down without visiting their iterations: a run
between two windows is ``k`` repetitions of the ``p`` programs of one short period (concatenated
into one program), a window iteration is a run of one. Each run acts on the state as a max-plus
matrix power; a long run is advanced by repeated squaring of the matrix of one repetition on its
local state (:func:`sim.maxplus_reduced.advance`), a short one is issued. Starting from the
phase start (every unit free, every history ready at cycle 0), the state after the last run
holds the ready cycle of every task's last instance: the phase's cycles, the discrete-event
engine's exactly (same issue programs, same taps, the same max and plus on the same integers).

Cost: ``O(W T + R |L|^3 log k)`` for ``W`` window iterations, ``R`` runs of local state ``|L|``
and ``T`` tasks, whatever the super-period: the GEMM above at 1M tokens on ``fusemax`` (4,194,301
iterations, 16 panel loads) is 31 runs.
"""

from __future__ import annotations

import numpy as np

from sim.des.fastforward import rare_regime, stretches, window_counts
from sim.des.program import PhaseProgram, local_units
from sim.maxplus import exact_cycles
from sim.maxplus_reduced import advance, newest_ready
from sim.taskgraph import Phase

#: Largest number of task instances issued one by one (window iterations and short runs,
#: ``(windows + window iterations) * p * tasks``) for which the runs are listed.
RARE_OPS = 1 << 17


def rare_program(phase: Phase):
    """``(program, p, terms)`` when ``phase`` is evaluated between its rare tasks, else None.

    ``program`` is the phase's :class:`PhaseProgram` with taps (far dependencies of rare tasks
    read through a few entries, as in the discrete-event engine), ``p`` and ``terms`` as in
    :func:`sim.des.fastforward.rare_regime`. None when the phase has no rare task, or when its
    windows would issue more than :data:`RARE_OPS` task instances one by one.
    """
    pp = PhaseProgram(phase, local_units(phase), taps=True)
    if not pp.live_tasks:
        return None
    split = rare_regime(pp)
    if split is None:
        return None
    p, terms = split
    windows, inside = window_counts(pp.n, terms)
    if (2 * windows + inside + 1) * p * len(phase.tasks) > RARE_OPS:
        return None
    return pp, p, terms


def rare_runs(pp: PhaseProgram, p: int, terms, n: int) -> list:
    """The runs ``(program, repetitions)`` of iterations ``0 .. n-1``, listed window by window.

    Between two windows, iterations ``i .. i+p-1`` issue the programs of ``i .. i+p-1`` for
    every ``i`` of the same residue modulo ``p``: their concatenation is one program, repeated;
    the few iterations left over and the window iterations are runs of their own.
    """
    P = pp.period
    runs, blocks = [], {}

    def add(prog, k):
        if runs and runs[-1][0] is prog:
            runs[-1][1] += k
        else:
            runs.append([prog, k])

    for i, s, in_window in stretches(terms, n):
        reps = 0 if in_window else (s - i) // p
        if reps:
            block = blocks.get(i % p)
            if block is None:
                block = blocks[i % p] = sum((pp.program(j % P) for j in range(i, i + p)), ())
            add(block, reps)
            i += reps * p
        for j in range(i, s):
            add(pp.program(j % P), 1)
    return runs


def rare_cycles(phase: Phase, plan=None) -> int:
    """Cycles of ``phase`` (from its start to its last result) by its runs between rare tasks
    (module docstring); equal to the discrete-event engine's cycles.

    ``plan`` is :func:`rare_program`'s answer, when already computed (it must not be None).
    """
    pp, p, terms = plan or rare_program(phase)
    start = np.zeros(1)   # vectors of one value: the state rows :mod:`sim.maxplus_reduced` expects
    free = [start] * len(pp.unit_index)
    for k, hist in enumerate(pp.histories):
        hist[:] = [start] * pp.depth[k]
    advance(pp, rare_runs(pp, p, terms, phase.iterations), free)
    return exact_cycles(phase, newest_ready(pp))
