"""The hierarchy mapper against a brute-force enumeration written here, its floors against the
counting model, and Timeloop constraints files read into its search space.

The brute force below enumerates every mapping of a small space with nothing shared with the
mapper: every keep set per level, every spatial split per fan-out axis, every factorization of
every rank over the levels and every full permutation of every level's loops (no pruning, no
deduplication), each costed by :func:`sim.nest.evaluate`. The mapper must reach the same best
cost, and its pruned search must return the very mapping its exhaustive mode returns.
"""

import itertools
import math
import random
from pathlib import Path

import pytest

from arch.errors import MappingError
from arch.hierarchy import ComputeLevel, Hierarchy, StorageLevel
from arch.timeloop import load_timeloop_arch
from mappings.mapping import EinsumShape
from mappings.nest import LevelMapping, NestMapping
from mappings.mapper import objective_key
from mappings.nest_mapper import LevelRule, _Search, search
from mappings.timeloop import read_mapping, read_problem
from mappings.timeloop_constraints import read_constraints
from sim.nest import evaluate
from sim.nest_bounds import NestCost

DATA = Path(__file__).resolve().parents[1] / "data" / "timeloop"


def shape_of(ranks, projections, output):
    tensors = {t: tuple(dict.fromkeys(r for dim in p for _, r in dim)) for t, p in projections.items()}
    return EinsumShape(output, ranks, tensors, output, {"mac": math.prod(ranks.values())}, projections)


# O[k,p] += W[k,r] * I[r+p]  (a 1D convolution with output channels)
CONV1D = shape_of({"K": 4, "R": 3, "P": 4},
                  {"W": (((1, "K"),), ((1, "R"),)), "I": (((1, "R"), (1, "P")),), "O": (((1, "K"),), ((1, "P"),))},
                  "O")
CONV1D_S = shape_of({"K": 1, "R": 3, "P": 2}, dict(CONV1D.projections), "O")
# Z[m,n] += A[m,k] * B[k,n]
GEMM = shape_of({"M": 4, "N": 2, "K": 4},
                {"A": (((1, "M"),), ((1, "K"),)), "B": (((1, "K"),), ((1, "N"),)), "Z": (((1, "M"),), ((1, "N"),))},
                "Z")
GEMM2 = shape_of({"M": 2, "N": 2, "K": 2}, dict(GEMM.projections), "Z")
# O[k,p] += W[k,r] * I[r+2p]  (stride 2: a window with holes)
STRIDED = shape_of({"K": 2, "R": 2, "P": 3},
                   {"W": (((1, "K"),), ((1, "R"),)), "I": (((1, "R"), (2, "P")),), "O": (((1, "K"),), ((1, "P"),))},
                   "O")
GEMM_S = shape_of({"M": 2, "N": 1, "K": 2}, dict(GEMM.projections), "Z")


def level(name, size, block=1, fx=1, fy=1, e=(2.0, 1.5, 1.7), bw=None):
    return StorageLevel(name, fx, fy, size, 8, block, bw, bw, None,
                        (("read", e[0]), ("fill", e[1]), ("update", e[2])))


TWO = Hierarchy("two", (level("DRAM", None, block=4, e=(200.0, 200.0, 200.0)), level("Buf", 12, bw=2.0)),
                ComputeLevel("MAC", energy_pj=(("compute", 1.0),)))
THREE = Hierarchy("three", (level("DRAM", None, block=2, e=(100.0, 90.0, 95.0)),
                            level("GLB", 24, block=2, e=(6.0, 5.0, 5.5), bw=4.0),
                            level("RF", 4, fx=2, e=(0.5, 0.4, 0.45))),
                  ComputeLevel("MAC", energy_pj=(("compute", 0.3), ("leak", 0.01))))
# 2 x 2 PEs with a scratchpad each under DRAM: spatial factors on X and Y
MESH = Hierarchy("mesh", (level("DRAM", None, block=2, e=(50.0, 50.0, 50.0)),
                          level("PE", 6, fx=2, fy=2, e=(1.0, 0.8, 0.9), bw=1.0)),
                 ComputeLevel("MAC", energy_pj=(("compute", 0.5),)))


def divisor_splits(n, slots):
    """Every tuple of ``slots`` positive integers whose product is ``n``."""
    if slots == 1:
        yield (n,)
        return
    for d in range(1, n + 1):
        if n % d == 0:
            for rest in divisor_splits(n // d, slots - 1):
                yield (d, *rest)


def brute_force(h, shape, objective):
    """(best objective key, count of valid mappings): every mapping, costed one by one."""
    n = len(h.levels)
    tensors, ranks = list(shape.tensors), list(shape.ranks)
    subsets = [frozenset(c) for k in range(len(tensors) + 1) for c in itertools.combinations(tensors, k)]
    keep_sets = itertools.product([frozenset(tensors)], *[subsets] * (n - 1))
    # slots per rank: per level temporal, X, Y
    best, valid = None, 0
    for keep in keep_sets:
        for split in itertools.product(*[list(divisor_splits(shape.ranks[r], 3 * n)) for r in ranks]):
            f = {r: split[j] for j, r in enumerate(ranks)}
            temporal = [{r: f[r][3 * i] for r in ranks} for i in range(n)]
            xs = [tuple((r, f[r][3 * i + 1]) for r in ranks if f[r][3 * i + 1] > 1) for i in range(n)]
            ys = [tuple((r, f[r][3 * i + 2]) for r in ranks if f[r][3 * i + 2] > 1) for i in range(n)]
            if any(math.prod(x for _, x in xs[i]) > h.child_fanout(i)[0] or
                   math.prod(y for _, y in ys[i]) > h.child_fanout(i)[1] for i in range(n)):
                continue
            looping = [[r for r in ranks if temporal[i][r] > 1] for i in range(n)]
            for perms in itertools.product(*[itertools.permutations(lp) for lp in looping]):
                nest = NestMapping(tuple(LevelMapping(h.levels[i].name, tuple((r, temporal[i][r]) for r in perms[i]),
                                                      xs[i], ys[i], keep[i]) for i in range(n)))
                try:
                    got = evaluate(h, shape, nest)
                except MappingError:
                    continue
                valid += 1
                k = objective_key(objective, got.cycles, got.energy_pj)
                best = k if best is None or k < best else best
    return best, valid


@pytest.mark.parametrize("h,shape,objective", [
    (TWO, CONV1D, "edp"), (TWO, GEMM, "energy"), (THREE, CONV1D_S, "latency"), (THREE, GEMM_S, "edp"),
    (TWO, STRIDED, "energy"), (MESH, GEMM2, "latency"), (MESH, STRIDED, "edp"),
])
def test_search_equals_brute_force(h, shape, objective):
    want, valid = brute_force(h, shape, objective)
    assert valid > 100  # the space is not trivial
    cost = NestCost(h, shape)
    got = search(h, shape, cost, objective)
    assert objective_key(objective, got.cycles, got.energy_pj) == want
    check = evaluate(h, shape, got.best)
    assert (check.cycles, check.energy_pj) == (got.cycles, got.energy_pj)
    full = search(h, shape, cost, objective, exhaustive=True)
    assert full.best == got.best and (full.cycles, full.energy_pj) == (got.cycles, got.energy_pj)
    assert got.evaluated < full.evaluated


def _random_choice(rng, keeps, spatials, shape, n):
    """A random keep/bypass choice, spatial choice and temporal factors of every level (level 0
    takes what the others leave of each rank)."""
    keep, sp = rng.choice(keeps), rng.choice(spatials)
    left = dict(shape.ranks)
    for x, y in sp:
        for r, f in (*x, *y):
            left[r] //= f
    temporal = [dict() for _ in range(n)]
    for i in range(n - 1, 0, -1):
        temporal[i] = {r: rng.choice([d for d in range(1, m + 1) if m % d == 0]) for r, m in left.items()}
        left = {r: left[r] // temporal[i][r] for r in left}
    temporal[0] = left
    return keep, sp, temporal


def test_floors_never_exceed_the_model():
    """Every partial mapping on the way to a random complete one: floor <= the model's cost."""
    rng = random.Random(7)
    for h, shape in ((THREE, CONV1D), (THREE, GEMM), (MESH, STRIDED)):
        cost = NestCost(h, shape)
        s = _Search(h, shape, cost, "edp", None, True)
        keeps, spatials, n = s.keep_choices(), s.spatial_choices(), len(h.levels)
        checked = 0
        while checked < 60:
            keep, sp, temporal = _random_choice(rng, keeps, spatials, shape, n)
            orders = [rng.choice(s.orders(i, temporal[i])) for i in range(n)]
            nest = s.nest(keep, sp, temporal, orders)
            try:
                c, e = cost.evaluate(nest)
            except MappingError:
                continue
            checked += 1
            ranks = list(shape.ranks)
            for i in range(1, n):  # factors chosen from level i down, level i's first k ranks only
                for k in range(len(ranks) + 1):
                    pick = {q: temporal[i][q] for q in ranks[:k]}
                    trial = [dict() for _ in range(n)]
                    trial[i + 1:] = temporal[i + 1:]
                    trial[i] = {q: pick.get(q, 1) for q in ranks}
                    trial[0] = {q: shape.ranks[q] // math.prod(
                        [f for x, y in sp for rr, f in (*x, *y) if rr == q] +
                        [trial[j].get(q, 1) for j in range(i, n)]) for q in ranks}
                    part = s.nest(keep, sp, trial, [None] * n)
                    bc, be = cost.bound(part, i, (), open_ranks=ranks[k:])
                    assert bc <= c and be <= e
            for k in range(n + 1):
                for precise in (False, True):
                    part = s.nest(keep, sp, temporal, orders[:k] + [None] * (n - k))
                    bc, be = cost.bound(part, 0, range(k), precise)
                    assert bc <= c and be <= e
            fc, fe = cost.bound(nest, 0, None, True)
            assert fc == c and fe == pytest.approx(e, rel=1e-8)  # all chosen: the floor is the cost


def test_sibling_orders_floored_at_once_as_one_by_one():
    """bound_orders over a level's loop orders gives, per order, what bound gives for the
    mapping with that order, and no more than the model's cost of any completion."""
    rng = random.Random(11)
    for h, shape in ((THREE, CONV1D), (MESH, STRIDED)):
        cost = NestCost(h, shape)
        s = _Search(h, shape, cost, "edp", None, True)
        keeps, spatials, n = s.keep_choices(), s.spatial_choices(), len(h.levels)
        checked = 0
        while checked < 30:
            keep, sp, temporal = _random_choice(rng, keeps, spatials, shape, n)
            i = rng.randrange(n)
            options = s.orders(i, temporal[i])
            if len(options) < 2:
                continue
            orders = [rng.choice(s.orders(k, temporal[k])) if k < i else None for k in range(n)]
            base = s.nest(keep, sp, temporal, orders)
            m = rng.randrange(1, len(options[0]) + 1)
            got = cost.bound_orders(base, i, options, 0, range(i), (i, m))
            for order, (bc, be) in zip(options, got):
                part = s.reordered(base, i, order, temporal[i])
                assert (bc, be) == cost.bound(part, 0, range(i), prefix=(i, m))
                full = s.nest(keep, sp, temporal, orders[:i] + [order] + [
                    rng.choice(s.orders(k, temporal[k])) for k in range(i + 1, n)])
                try:
                    c, e = cost.evaluate(full)
                except MappingError:
                    continue
                assert bc <= c and be <= e
            checked += 1


def test_found_mapping_written_for_timeloop_and_read_back(tmp_path):
    """The mapper's answer as a Timeloop mapping file gives the same counts when read back."""
    from mappings.timeloop_write import timeloop_mapping_text

    got = search(MESH, STRIDED, NestCost(MESH, STRIDED), "edp")
    path = tmp_path / "found.map.yaml"
    path.write_text(timeloop_mapping_text(got.best, STRIDED))
    again = read_mapping(path, STRIDED, MESH)
    for lm, back in zip(got.best.levels, again.levels):  # the reader adds loops of trip count 1
        for mine, read in ((lm.temporal, back.temporal), (lm.spatial_x, back.spatial_x), (lm.spatial_y, back.spatial_y)):
            assert tuple(p for p in read if p[1] > 1) == mine
        assert back.keep == (lm.keep or frozenset(STRIDED.tensors))
    mine, theirs = evaluate(MESH, STRIDED, got.best), evaluate(MESH, STRIDED, again)
    assert (theirs.cycles, theirs.energy_pj, theirs.accesses) == (mine.cycles, mine.energy_pj, mine.accesses)


def test_rules_narrow_the_space():
    rules = [LevelRule(), LevelRule(temporal=(("K", 1),), spatial_x=(("P", 2),), keep=frozenset({"W", "O"}),
                                    bypass=frozenset({"I"})),
             LevelRule(order=("R",), temporal=(("K", 1),))]
    got = search(THREE, CONV1D, NestCost(THREE, CONV1D), "energy", rules)
    dram, glb, rf = got.best.levels
    assert dict(glb.temporal).get("K", 1) == 1 and dict(rf.temporal).get("K", 1) == 1
    assert glb.spatial_x == (("P", 2),) and glb.keep == frozenset({"W", "O"})
    assert dict(dram.temporal)["K"] == 4
    if len(rf.temporal) > 1 and "R" in dict(rf.temporal):
        assert rf.temporal[-1][0] == "R"  # R runs innermost at RF


def test_unknown_objective_and_empty_space():
    cost = NestCost(TWO, GEMM)
    with pytest.raises(MappingError, match=r"^'objective' must be one of latency, energy, edp, not 'speed'$"):
        search(TWO, GEMM, cost, "speed")
    tiny = Hierarchy("tiny", (level("DRAM", None), level("Buf", 1)), ComputeLevel("MAC"))
    rules = [LevelRule(), LevelRule(keep=frozenset({"A", "B", "Z"}))]
    with pytest.raises(MappingError, match=r"^einsum 'Z': no valid mapping on tiny"):
        search(tiny, GEMM, NestCost(tiny, GEMM), "edp", rules)


# ------------------------------------------------------------------ Timeloop constraints

EYERISS = DATA / "06-eyeriss-vgg02-layer5"
OPTIONS = DATA / "06-eyeriss-mapper" / "mapper.yaml"


@pytest.fixture(scope="module")
def eyeriss():
    h = load_timeloop_arch(EYERISS / "eyeriss_like.arch.yaml", EYERISS / "timeloop-mapper.ERT.yaml")
    return h, read_problem(EYERISS / "VGG02_layer5.prob.yaml")


def test_eyeriss_constraints_read_from_the_architecture(eyeriss):
    h, shape = eyeriss
    rules, objective = read_constraints(OPTIONS, h, shape, arch_path=EYERISS / "eyeriss_like.arch.yaml")
    assert objective == "latency"  # optimization_metrics: [delay, energy]
    assert [lv.name for lv in h.levels] == ["DRAM", "shared_glb", "ifmap_spad", "weights_spad", "psum_spad"]
    glb, ifmap, weights, psum = rules[1], rules[2], rules[3], rules[4]
    # PE_column (meshX 14): N, C, P, R, S pinned to 1, so X carries Q and M
    assert glb.x_ranks == frozenset({"Q", "M"})
    # PE (meshY 12): split 4 sends N, P, Q, R to X (pinned to 1): Y carries S, C, M
    assert glb.y_ranks == frozenset({"S", "C", "M"})
    assert (glb.keep, glb.bypass) == (frozenset({"Inputs", "Outputs"}), frozenset({"Weights"}))
    assert ifmap.keep == frozenset({"Inputs"}) and ifmap.bypass == frozenset({"Weights", "Outputs"})
    assert weights.order == ("N", "M", "P", "Q", "S", "C", "R")
    assert dict(weights.temporal) == {"N": 1, "M": 1, "P": 1, "Q": 1, "S": 1}
    assert dict(psum.temporal) == {"N": 1, "C": 1, "R": 1, "S": 1, "P": 1, "Q": 1}


def _write(tmp_path, text):
    p = tmp_path / "c.yaml"
    p.write_text(text)
    return p


@pytest.mark.parametrize("text,message", [
    ("mapper: {optimization_metrics: [delay, energy], colour: red}\n",
     "mapper.colour: unknown option (known: optimization_metrics, "),
    ("mapper: {optimization_metrics: [area]}\n", "mapper.optimization_metrics: must be one of "),
    ("constraints: {targets: [{target: shared_glb, type: temporal, factors: Z=2}]}\n",
     "constraints.targets[0].factors: a factor must be RANK=N with a rank of C, M, R, S, N, P, Q, not 'Z=2'"),
    ("mapspace_constraints: [{target: L9, type: temporal}]\n",
     "mapspace_constraints[0].target: unknown target 'L9' (targets: DRAM, shared_glb, ifmap_spad, weights_spad, "
     "psum_spad)"),
    ("mapspace_constraints: [{target: DRAM, type: temporal, colour: red}]\n",
     "mapspace_constraints[0].colour: unknown key (allowed: bypass, factors, keep, permutation, split, target, type)"),
    ("mapspace_constraints: [{target: DRAM, type: fancy}]\n",
     "mapspace_constraints[0].type: 'type' must be one of temporal, spatial, bypass, dataspace, datatype, not 'fancy'"),
    ("mapspace_constraints: [{target: shared_glb, type: bypass, keep: [Inputs], bypass: [Inputs]}]\n",
     "mapspace_constraints[0]: Inputs is both kept and bypassed"),
    ("targets: []\n", "targets: unknown key (allowed: mapper, constraints, mapspace_constraints, "
                      "architecture_constraints)"),
])
def test_bad_constraints_one_line(tmp_path, eyeriss, text, message):
    h, shape = eyeriss
    p = _write(tmp_path, text)
    with pytest.raises(MappingError) as err:
        read_constraints(p, h, shape)
    assert str(err.value).startswith(f"{p}: {message}")
    assert "\n" not in str(err.value)


def test_constraints_file_targets(tmp_path, eyeriss):
    h, shape = eyeriss
    p = _write(tmp_path, "mapper: {optimization_metrics: [edp]}\n"
                         "mapspace_constraints:\n"
                         "  - {target: DRAM, type: temporal, factors: N=1 R=1, permutation: SR}\n"
                         "  - {target: shared_glb, type: spatial, factors: Q=14 N=1, permutation: QM, split: 2}\n")
    rules, objective = read_constraints(p, h, shape)
    assert objective == "edp"
    assert dict(rules[0].temporal) == {"N": 1, "R": 1} and rules[0].order == ("S", "R")
    # X: the listed Q, M and the unlisted free ranks; Y: the unlisted free ranks; N pinned to 1
    assert rules[1].spatial_x == (("Q", 14),) and rules[1].x_ranks == frozenset({"Q", "M", "C", "R", "S", "P"})
    assert rules[1].y_ranks == frozenset({"C", "R", "S", "P"})


# O[k,p,q] += W[k,c,r,s] * I[c,p+r,q+s]  (a small 2D convolution)
CONV2D = shape_of({"K": 2, "C": 2, "R": 3, "S": 2, "P": 4, "Q": 2},
                  {"W": (((1, "K"),), ((1, "C"),), ((1, "R"),), ((1, "S"),)),
                   "I": (((1, "C"),), ((1, "R"), (1, "P")), ((1, "S"), (1, "Q"))),
                   "O": (((1, "K"),), ((1, "P"),), ((1, "Q"),))}, "O")
# four levels, fan-outs in the middle and at the bottom: tiles of one instance leave gaps
DEEP = Hierarchy("deep", (level("DRAM", None, block=2, e=(100.0, 90.0, 95.0)),
                          level("GLB", None, fx=2, fy=2, e=(6.0, 5.0, 5.5)),
                          level("RF", None, e=(1.0, 0.8, 0.9)),
                          level("REG", None, fx=2, e=(0.5, 0.4, 0.45))),
                 ComputeLevel("MAC", energy_pj=(("compute", 0.3),)))


@pytest.mark.parametrize("h,shape", [(DEEP, CONV2D), (DEEP, STRIDED), (DEEP, GEMM), (THREE, CONV1D),
                                     (MESH, STRIDED)])
def test_count_floors_never_exceed_the_models_counts(h, shape):
    """Every count floor (each level, tensor and action; sliding windows above all) of every
    partial mapping on the way to a random complete one is at most the model's count of it,
    and so is the priced floor (with what open loop orders cost the tensors that disagree on
    them) at most the model's cycles and energy: factors open rank by rank, orders open level
    by level and loop by loop."""
    from sim.nest import tensor_counts
    from sim.reuse import strides

    rng = random.Random(3)
    cost = NestCost(h, shape)
    s = _Search(h, shape, cost, "edp", None, True)
    keeps, spatials, n, ranks = s.keep_choices(), s.spatial_choices(), len(h.levels), list(shape.ranks)
    for _ in range(40):
        keep, sp, temporal = _random_choice(rng, keeps, spatials, shape, n)
        orders = [rng.choice(s.orders(i, temporal[i])) for i in range(n)]
        nest = s.nest(keep, sp, temporal, orders)
        try:
            cycles, energy = cost.evaluate(nest)
        except MappingError:  # over a level's capacity
            continue
        loops = nest.loops()
        model = [{} for _ in range(n)]
        for t in shape.tensors:
            for i, rfu in tensor_counts(shape, nest, t, n, loops, strides(loops)).items():
                model[i][t] = rfu
        partial = []
        for i in range(1, n):
            for k in range(len(ranks) + 1):
                trial = [dict() for _ in range(n)]
                trial[i + 1:] = temporal[i + 1:]
                trial[i] = {q: temporal[i][q] if q in ranks[:k] else 1 for q in ranks}
                trial[0] = {q: shape.ranks[q] // math.prod(
                    [f for x, y in sp for rr, f in (*x, *y) if rr == q] +
                    [trial[j].get(q, 1) for j in range(i, n)]) for q in ranks}
                partial.append((s.nest(keep, sp, trial, [None] * n), dict(assigned_from=i, ordered=(),
                                                                           open_ranks=ranks[k:])))
        for i in range(n):
            for m in range(len(orders[i]) + 1):
                partial.append((nest, dict(ordered=range(i), prefix=(i, m))))
            partial.append((nest, dict(ordered=range(i + 1), precise=True)))
        for part, how in partial:
            floors = cost.count_floors(part, **how)
            bc, be = cost.bound(part, **how)
            assert bc <= cycles and be <= energy, (how, bc, be, cycles, energy)
            for i in range(n):
                for t, rfu in floors[i].items():
                    assert all(f <= c for f, c in zip(rfu, model[i][t])), (i, t, how, rfu, model[i][t])
