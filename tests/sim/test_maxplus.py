"""One truth for timing: the analytical engine's max-plus recurrence against the discrete-event engine.

* Period: on random pipelines (loop-carried dependencies, buffer slots, latencies, guarded
  prologue/epilogue steps) the steady-state cycles per iteration of :func:`sim.maxplus.period`
  (maximum cycle mean) equal what the discrete-event engine's fast-forward measures (the shift
  of its repeating schedule over the iterations of its window), exactly.
* Cycles: on the exact roads the analytical engine reports the discrete-event engine's cycles;
  the closed form by matrix powers equals stepping through every instance.
* By hand: the double-buffered load/compute pipeline of the mapper's GEMM tiles.
* The GEMM of issue 10 (32x32 array, 100-cycle DRAM latency): both engines agree on every
  mapping the mapper returns.
"""

from fractions import Fraction

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from sim import analytical, des, maxplus, maxplus_reduced
from sim.taskgraph import Dep, Phase, Task, TaskGraph

UNITS = {"dram": 1, "pe2d": 16, "pe1d": 4}


@st.composite
def pipelines(draw, min_iterations=1, max_iterations=5000):
    """A random loop body: 2-5 tasks on 3 units, same-iteration edges only backwards (no
    deadlock), loop-carried edges of distance 1-4 (recurrences, buffer slots), guards."""
    n_tasks = draw(st.integers(2, 5))
    tasks = []
    for k in range(n_tasks):
        every = draw(st.sampled_from([1, 1, 1, 2, 3, 4]))
        deps = []
        for j in range(n_tasks):
            if j != k and draw(st.integers(0, 2)) == 0:
                deps.append(Dep(f"t{j}", draw(st.integers(0 if j < k else 1, 4))))
        tasks.append(Task(f"t{k}", draw(st.sampled_from(sorted(UNITS))), draw(st.integers(0, 30)),
                          draw(st.integers(0, 120)), deps=tuple(deps), every=every,
                          offset=draw(st.integers(0, every - 1))))
    return Phase("p", tuple(tasks), draw(st.integers(min_iterations, max_iterations)))


def _des_period(phase):
    """(cycles, steady-state cycles per iteration or None) the discrete-event engine measures."""
    rep = des.run(TaskGraph((phase,), UNITS, clock_hz=1e9))
    regime = rep.meta["des"]["phases"][0]["regime"]
    if regime is None:
        return rep.cycles, None
    return rep.cycles, Fraction(regime["shift_cycles"], regime["window_blocks"] * regime["block_iterations"])


@settings(max_examples=150, deadline=None)
@given(pipelines(min_iterations=1000))
def test_period_equals_the_fast_forward_period(phase):
    cycles, measured = _des_period(phase)
    assume(measured is not None)  # the DES found its periodic regime
    assert maxplus.period(phase) == measured
    if analytical.road(phase) < 4:
        assert analytical.phase_cycles(phase) == cycles
    else:
        assert analytical.phase_cycles(phase) <= cycles


@settings(max_examples=150, deadline=None)
@given(pipelines(max_iterations=300))
def test_serial_cycles_bound_both_engines_from_above(phase):
    # every instance one after another, each with its latency, is never beaten by waiting:
    # at least the discrete-event engine's cycles, which are at least the analytical bound
    cycles = des.run(TaskGraph((phase,), UNITS, clock_hz=1e9)).cycles
    assert analytical.phase_bound(phase) <= cycles <= analytical.serial_cycles(phase)


@settings(max_examples=150, deadline=None)
@given(pipelines(max_iterations=300))
def test_matrix_powers_equal_stepping_every_instance(phase):
    assume(phase.period <= analytical.MAX_PERIOD)
    assert maxplus.matrix_cycles(phase) == maxplus.scalar_cycles(phase)


@st.composite
def long_reach(draw):
    """A random pipeline plus a step every ``E`` iterations (``E`` 16-128) that waits on an
    instance about a whole super-period back: the state then holds ``E`` ready cycles or more,
    too many for dense matrices, though a super-period reads only a few of them."""
    base = draw(pipelines(min_iterations=1, max_iterations=1))
    every = draw(st.sampled_from([16, 32, 64, 128]))
    reach = draw(st.integers(every - 2, every + 2))
    target = draw(st.sampled_from([t.name for t in base.tasks]))
    far = Task("far", draw(st.sampled_from(sorted(UNITS))), draw(st.integers(0, 200)), draw(st.integers(0, 50)),
               deps=(Dep(target, reach),), every=every, offset=draw(st.integers(0, every - 1)))
    return Phase("p", base.tasks + (far,), draw(st.integers(3 * every, 20 * every)))


@settings(max_examples=80, deadline=None)
@given(long_reach())
def test_reduced_state_gives_the_discrete_event_cycles(phase):
    """Road 3 on the positions a super-period reads: the discrete-event engine's cycles, on
    states too large for the dense matrices."""
    cycles = des.run(TaskGraph((phase,), UNITS, clock_hz=1e9)).cycles
    assert maxplus_reduced.reduced_cycles(phase) == cycles
    assert analytical.road(phase) <= 3
    assert analytical.phase_cycles(phase) == cycles


def test_reduced_state_by_hand():
    """A 4-cycle step on pe1d every iteration and, every 100th iteration (offset 99), a
    300-cycle step on pe2d with a 200-cycle latency that waits on the pe1d step 100 iterations
    back (the state holds 102 ready cycles). pe1d is never held up: instance i ends at
    4 (i + 1). Step j (iteration 100 j + 99) waits on pe1d instance 100 j - 1, ended at 400 j,
    and on pe2d's step j - 1, ended at 400 j - 100: it starts at 400 j and is ready at
    400 j + 500. Over 1000 iterations (j up to 9) the phase ends at 4100, after pe1d's 4000."""
    ph = Phase("p", (Task("m", "pe1d", 4),
                     Task("w", "pe2d", 300, latency=200, deps=(Dep("m", 100),), every=100, offset=99)), 1000)
    assert maxplus_reduced.reduced_cycles(ph) == 4100
    assert analytical.phase_cycles(ph) == des.run(TaskGraph((ph,), UNITS, clock_hz=1e9)).cycles == 4100


def test_skipped_run_read_halfway_by_hand():
    """As above, but the pe2d step waits on the pe1d step only 50 iterations back: a value
    issued in the middle of the 99 unguarded iterations that are advanced by matrix powers,
    computed when the step reads it. Step j (iteration 100 j + 99) waits on pe1d instance
    100 j + 49, ended at 400 j + 200, and on step j - 1, ended at 400 j + 100: it starts at
    400 j + 200 and is ready at 400 j + 700. Over 1000 iterations the phase ends at 4300."""
    ph = Phase("p", (Task("m", "pe1d", 4),
                     Task("w", "pe2d", 300, latency=200, deps=(Dep("m", 50),), every=100, offset=99)), 1000)
    assert maxplus_reduced.reduced_cycles(ph) == 4300
    assert des.run(TaskGraph((ph,), UNITS, clock_hz=1e9)).cycles == 4300


@settings(max_examples=40, deadline=None)
@given(long_reach())
def test_read_positions_are_the_live_columns(phase):
    """The positions found from the runs alone are the columns of the super-period's matrix
    (built densely, one iteration matrix after another) that are not all ``-inf``."""
    import numpy as np

    rec = maxplus.Recurrence(phase)
    P = rec.program.period
    assume(phase.iterations >= P)
    live = np.flatnonzero((rec.product(0, P) > -np.inf).any(axis=0)).tolist()
    assert maxplus_reduced.read_positions(rec, rec.runs(0, P)) == live


def _fusemax_cascade_pipeline(n):
    """A 15-task loop body of the shape of the '+Cascade' configuration at a 1M-token
    sequence, built here by hand: a Q tile load and the output store once every 1024
    iterations, the load waiting for the BQK step a whole super-period back."""
    def t(name, unit, cycles, deps, latency=0, every=1, offset=0):
        return Task(name, unit, cycles, latency=latency, deps=tuple(Dep(*d) for d in deps),
                    every=every, offset=offset)
    return Phase("attention.cascade", (
        t("ld_q", "dram", 4590, [("BQK", 1024)], every=1024, offset=1021),
        t("ld_kv", "dram", 144, [("SLNV", 2)]),
        t("BQK", "pe2d", 4096, [("ld_q", 0), ("ld_kv", 0)]),
        t("SPNV", "pe1d", 4096, [("PRM", 1), ("RNV", 1)]),
        t("LM", "pe1d", 16384, [("BQK", 0)]),
        t("RM", "pe1d", 64, [("LM", 0), ("RM", 1)]),
        t("PRM", "pe1d", 64, [("RM", 0)]),
        t("SLN", "pe1d", 16384, [("RM", 0), ("BQK", 0)]),
        t("SLD", "pe1d", 16384, [("SLN", 0)]),
        t("SPD", "pe1d", 64, [("PRM", 0), ("RD", 1)]),
        t("RD", "pe1d", 64, [("SLD", 0), ("SPD", 0)]),
        t("SLNV", "pe2d", 4096, [("SLN", 1), ("ld_kv", 1)], latency=256),
        t("RNV", "pe1d", 4096, [("SLNV", 0), ("SPNV", 0)]),
        t("AV", "pe1d", 4096, [("RNV", 0), ("RD", 1)], latency=3, every=1024, offset=1021),
        t("st_av", "dram", 4590, [("AV", 2)], every=1024, offset=1023)), n)


def test_fusemax_pipeline_is_exact():
    """A 15-task FuseMax pipeline with a super-period of 1024 iterations, 12,582,909 of them
    (the study's BERT 1M-token phase): the analytical engine reports the discrete-event
    engine's cycles exactly. The lower bound it used to return is 144 cycles short (the
    bound misses the wait of the Q load, every 1024 iterations, on its buffer slot)."""
    ph = _fusemax_cascade_pipeline(12_582_909)
    units = {"dram": 1, "pe2d": 256 * 256, "pe1d": 256}
    cycles = des.run(TaskGraph((ph,), units, clock_hz=1e9)).cycles
    assert analytical.road(ph) == 3
    assert maxplus_reduced.reduced_cycles(ph) == cycles
    assert analytical.phase_bound(ph) < cycles


@settings(max_examples=20, deadline=None)
@given(st.integers(1, 6000))
def test_fusemax_pipeline_every_length(n):
    """The same pipeline cut at any length (inside the first super-periods, at their guarded
    iterations, across several): exact against the discrete-event engine."""
    ph = _fusemax_cascade_pipeline(n)
    units = {"dram": 1, "pe2d": 256 * 256, "pe1d": 256}
    assert maxplus_reduced.reduced_cycles(ph) == des.run(TaskGraph((ph,), units, clock_hz=1e9)).cycles


def _double_buffered(n, load, latency, compute):
    return Phase("tiles", (Task("load", "dram", load, latency=latency, deps=(Dep("compute", 2),)),
                           Task("compute", "pe2d", compute, deps=(Dep("load"),))), n)


def test_double_buffered_tiles_by_hand():
    """Load L = 1, DRAM latency 100, compute C = 8, two buffer slots (the 64x128 tiles the mapper
    chose for the 1024^3 GEMM on a 32x32 array before it knew the latency). Writing e(i) for the
    end of compute i: e(0) = L + lat + C = 109 and e(1) = e(0) + C = 117 (load 1 needs no free
    slot); from then on the load of tile i waits for compute i - 2 to free its slot, so
    e(i) = e(i - 2) + L + lat + C = e(i - 2) + 109: two tiles every 109 cycles, a period of
    54.5 cycles per tile against the 8 the array needs. 131072 tiles end at
    e(131071) = 117 + 109 * 65535 = 7,143,432 cycles."""
    ph = _double_buffered(131072, 1, 100, 8)
    assert maxplus.period(ph) == Fraction(109, 2)
    assert analytical.phase_cycles(ph) == 117 + 109 * 65535 == 7_143_432
    assert _des_period(ph) == (7_143_432, Fraction(109, 2))


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 40), st.integers(0, 300), st.integers(1, 40), st.integers(1000, 20000))
def test_double_buffered_period_is_the_slowest_of_three_cycles(load, latency, compute, n):
    """The load stream (L per tile), the compute stream (C per tile) and the slot recurrence
    (L + lat + C per two tiles) are the only cycles of the dependence graph."""
    ph = _double_buffered(n, load, latency, compute)
    assert maxplus.period(ph) == max(Fraction(load), Fraction(compute), Fraction(load + latency + compute, 2))
    assert analytical.phase_cycles(ph) == des.run(TaskGraph((ph,), UNITS, clock_hz=1e9)).cycles


def test_guarded_prologue_period_by_hand():
    """A running max on pe1d (distance 1, 3 cycles) and a 20-cycle step on pe2d every 4th
    iteration that waits for it: pe2d needs 20 cycles per 4 iterations, the recurrence 3 per
    iteration, so the period is max(3, 20 / 4) = 5 cycles per iteration."""
    ph = Phase("p", (Task("m", "pe1d", 3, deps=(Dep("m", 1),)),
                     Task("w", "pe2d", 20, deps=(Dep("m"),), every=4, offset=3)), 4000)
    assert maxplus.period(ph) == 5
    assert _des_period(ph)[1] == 5


def test_issue_gemm_agrees_on_both_engines(tmp_path):
    """The GEMM of issue 10 on a 32x32 array with a 100-cycle DRAM latency: the mapper now sees
    the slot recurrence through the latency, picks 256x512 tiles, and both engines report the
    same cycles (before: 1,048,677 analytical against 7,143,432 simulated, 14.7% PE use)."""
    from studies.families import gemm

    spec = tmp_path / "g32.yaml"
    spec.write_text(_SPEC_32)
    point = {"M": "1024", "N": "1024", "K": "1024"}
    a = gemm.evaluate(str(spec), point, "analytical")
    d = gemm.evaluate(str(spec), point, "des")
    assert a["cycles"] == d["cycles"]
    # 1024^3 MACs on 1024 PEs take 1,048,576 cycles at the least: the array is kept busy
    assert 1_048_576 <= a["cycles"] <= 1.001 * 1_048_576
    assert d["utilization"]["pe2d"] > 0.99


@settings(max_examples=25, deadline=None)
@given(st.sampled_from([0, 10, 100, 400]), st.sampled_from(["latency", "energy", "edp"]),
       st.sampled_from([(1024, 1024, 1024), (512, 2048, 256), (300, 700, 900), (4096, 64, 512)]))
def test_mapper_choices_agree_on_both_engines(latency, objective, dims):
    """Every mapping the mapper returns, on dense phases of 1000 tiles or more: the two engines
    agree within 2% (they agree exactly)."""
    from arch.registry import load_arch
    from mappings.mapper import search
    from mappings.mapping import gemm_shape
    from sim.lower import ANALYTICAL, lower

    spec = load_arch("fusemax", {"compute.pe2d.shape": [32, 32], "compute.pe1d.shape": [32],
                                 "dram.latency_cycles": latency})
    shape = gemm_shape(*dims)
    best = search(spec, shape, ANALYTICAL, objective=objective)
    g = lower(spec, shape, best.best)
    a, d = analytical.run(g), des.run(g)
    assert a.cycles == d.cycles == best.cycles
    for ph in g.phases:
        if ph.iterations >= 1000:
            one = TaskGraph((ph,), g.units, clock_hz=1e9)
            assert abs(analytical.run(one).cycles - des.run(one).cycles) <= 0.02 * des.run(one).cycles


_SPEC_32 = """
kind: spatial
clock_mhz: 940
word_bits: 16
compute:
  pe2d:
    shape: [32, 32]
    operators:
      mac: {cycles: 1, energy_pj: 17.16}
storage:
  glb:
    size_bytes: 16777216
    access_bytes: 512
    read_pj: 12512.7
    write_pj: 15751.4
  rf2d:
    per_pe_of: pe2d
    size_bytes: 20
    read_pj: 0.653
    write_pj: 0.570
dram:
  bw_bytes_per_s: 429496729600
  access_bytes: 8
  access_pj: 249.6
  latency_cycles: 100
"""


def test_large_max_plus_products_row_by_row():
    """Products too large to materialise at once are taken row by row: the same numbers as
    the definition ``[i, j] = max_k a[i, k] + b[k, j]`` written out with numpy."""
    import numpy as np

    rng = np.random.default_rng(7)
    a, b = (rng.integers(-1000, 1000, (170, 170)).astype(float) for _ in range(2))
    a[3, :] = -np.inf
    want = np.array([[max(a[i, k] + b[k, j] for k in range(170)) for j in range(0, 170, 17)] for i in range(0, 170, 13)])
    assert 170 ** 3 > maxplus._MP_CUBE
    assert np.array_equal(maxplus._mp(a, b)[::13, ::17], want)


@pytest.mark.parametrize("iterations", [17, 33, 65, 1000])
def test_reduced_state_keeps_a_result_nothing_reads(iterations):
    """A guarded step whose result nobody reads still ends the phase: after a run of
    zero-cycle steps, its latency is the phase's last cycle (found by the property above)."""
    phase = Phase("p", (Task("t0", "dram", 0), Task("t1", "dram", 0),
                        Task("far", "dram", 0, latency=1, deps=(Dep("t0", 14),), every=16, offset=1)), iterations)
    cycles = des.run(TaskGraph((phase,), UNITS, clock_hz=1e9)).cycles
    assert cycles == 1
    assert maxplus_reduced.reduced_cycles(phase) == cycles
