"""The analytical engine between rare tasks (road 3, ``sim/maxplus_rare.py``) is exact.

A GEMM whose weights take several panels reloads a panel once every ``every`` tiles, so its
super-period is as long as a panel; the engine lists the runs between panel loads instead of the
super-period's iterations. References: a closed form derived below, and the discrete-event
engine, whose full simulation (``fast_forward=False``) and fast-forward between rare tasks are
tested equal in ``tests/sim/des/test_rare.py``.
"""

import time

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from arch.errors import SimulationError
from mappings.cascade_mapping import load
from sim import analytical, des, maxplus_rare
from sim.cascade import lower
from sim.des.fastforward import RARE_EVERY
from sim.taskgraph import Dep, Phase, Task, TaskGraph
from studies.families import cascade as cascade_family
from tests.sim.des.test_rare import rare_phases

UNITS = {"dram": 1, "pe2d": 16, "pe1d": 4}
#: Task instances the discrete-event reference may simulate per example.
DES_STEPS = 60_000


def panel_phase(n, every, load_b=700, mac=40, load_a=30, store=0):
    """Tiles of a GEMM whose weight panel (``load.B``) is reloaded every ``every`` tiles into a
    double buffer: it waits for the last tile that read the buffer it overwrites (distance
    ``every``); tiles wait for the newest panel and for their input one stage behind."""
    return Phase("gemm", (
        Task("Z", "pe2d", mac, deps=(Dep("load.A", 1), Dep("load.B", 1))),
        Task("load.A", "dram", load_a, deps=(Dep("Z", 1),)),
        Task("load.B", "dram", load_b, every=every, offset=every - 3, deps=(Dep("Z", every),)),
        Task("store.Z", "dram", store, deps=(Dep("Z", 2),)),
    ), n)


def test_panel_gemm_closed_form_between_rare_tasks():
    # As derived in tests/sim/des/test_rare.py: the array sets the pace, 40 cycles a tile
    # (Z(i) ends at 40 (i + 1)); each panel load of B cycles, issued after load.A(i), ends at
    # 40 i + 30 + B and delays Z(i + 1) by B - 10 for good. Panels at every - 3, 2 every - 3, ...
    B = 700
    for every, panels in ((1 << 16, 3), (1 << 18, 4), ((1 << 16) + 7, 2)):
        n = panels * every
        ph = panel_phase(n, every, load_b=B)
        assert ph.period * len(ph.tasks) > analytical.REDUCED_OPS   # too long for the read positions
        assert maxplus_rare.rare_program(ph) is not None
        assert analytical.road(ph) == 3
        assert analytical.phase_cycles(ph) == 40 * n + panels * (B - 10)


def _linear_gemm(arch, M):
    params = {"name": "gemm", "M": M, "N": 16384, "K": 4096, "mapping": "linear"}
    spec = cascade_family.load_arch(arch, {})
    cascade, sizes = cascade_family._sizes(params, cascade_family._cascade(params), spec)
    return lower(cascade, sizes, load("linear"), spec)


def test_multi_panel_linear_gemm_equals_des():
    # XLM's feed-forward GEMM shape at 256K and 1M tokens, batch 64 (M = tokens * 64): two or
    # four weight panels on fusemax (every = 65,536 or 262,144 tiles), two on flat
    for arch, M in (("fusemax", 1 << 24), ("fusemax", 1 << 26), ("flat", 1 << 26)):
        g = _linear_gemm(arch, M)
        steady = [ph for ph in g.phases if ph.period > 1]
        assert steady and all(analytical.road(ph) == 3 for ph in steady)
        t0 = time.perf_counter()
        cycles = analytical.run(g).cycles
        assert time.perf_counter() - t0 < 2.0
        assert cycles == des.run(g).cycles


#: Frequent tasks (every 1 to 3) and one or two rare ones (every 1024..100000). A rare ``every``
#: is a multiple of 6, so that the reference reads its far dependencies through taps
#: (``sim/des/program.py``): without them its fast-forward compares states of ``every`` values
#: per block, minutes per example.
RARE_PHASES = rare_phases(rare_every=st.integers(-(-RARE_EVERY // 6), 100_000 // 6).map(lambda x: 6 * x),
                          frequent_every=(1, 1, 2, 3),
                          far=lambda every: [every, every + 1, every - 1, every // 2, 40],
                          iterations=lambda every_max: st.integers(600, 4 * every_max))


@settings(max_examples=40, deadline=None)
@given(RARE_PHASES)
def test_between_rare_tasks_equals_des(ph):
    try:   # a phase the fast-forward cannot shorten much is left out: the test stays fast
        want = des.run(TaskGraph(phases=(ph,), units=UNITS, clock_hz=1e9), budget_steps=DES_STEPS).cycles
    except SimulationError:
        assume(False)
    plan = maxplus_rare.rare_program(ph)
    if plan is not None:   # whatever road the phase takes, the runs between rare tasks are exact
        assert maxplus_rare.rare_cycles(ph, plan) == want
    if analytical.road(ph) < 4:
        assert analytical.phase_cycles(ph) == want
