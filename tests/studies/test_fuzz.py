"""Property-based fuzzing of every input surface against the bad-input contract.

The contract (docs/cli.md, "Errors"): any input either works, or ends with exit status 2 (a
library caller: an :class:`arch.errors.AccelError`) and exactly one line naming what is wrong;
never a traceback, a crash, a hang, or a silently wrong result. Each surface below draws
hostile values (non-ASCII digits, ``inf``/``nan``, huge and negative numbers, floats where
integers belong, wrong YAML types, stray bytes) into otherwise small, cheap inputs, so that the
cases that do run finish in milliseconds. Hypothesis runs derandomized (the same cases every
run) with no deadline. Cases per surface are the ``max_examples`` of each test:

=====================  =====
surface                cases
=====================  =====
explore flags          600
workload strings       600
spec documents         600
Matrix Market files    600
cascade text           600
mapping files          600 (200 cascade, 400 Timeloop)
python -m rtl flags    300
=====================  =====

Mapping files are the shipped FuseMax cascade mapping (``--mapping``) and a Timeloop mapping
file (``timeloop:...,mapping=``), each with one key path replaced by a hostile value, deleted,
or joined by an unknown key, or its bytes cut or corrupted.
"""

from __future__ import annotations

import io
import itertools
import math
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arch.errors import AccelError
from arch.registry import LOADERS, PRESET_DIR
from arch.yamlio import load_yaml, load_yaml_file

FUZZ = dict(deadline=None, derandomize=True, database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                   HealthCheck.function_scoped_fixture, HealthCheck.data_too_large])

# ----------------------------------------------------------------------------- hostile values

HOSTILE_WORDS = ["", " ", "²", "١٢", "１２", "1_000", "0x10", "1e308", "-1e308", "1e-320", "inf", "-inf", "nan",
                 "NaN", ".inf", "Infinity", "0", "-0", "-1", "+", "-", ".", "1.", "2.5", "1e3", "3e",
                 "99999999999999999999", "-99999999999999999999", "9" * 400, "true", "no", "null", "~",
                 "[1, 2]", "{a: 1}", "[" * 50, "'", '"', "\\", "%", "\t", "x=y", "a,b", "\x00", "\u202e1"]
#: numbers that are never a valid small size: non-positive or far beyond every cap
HOSTILE_INTS = st.one_of(st.integers(-10 ** 30, 0), st.integers(10 ** 9, 10 ** 30))
HOSTILE_TEXT = st.one_of(
    st.sampled_from(HOSTILE_WORDS),
    HOSTILE_INTS.map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.text(alphabet=st.characters(codec="utf-8", exclude_characters=",=:\n"), max_size=8),
)
SMALL_TEXT = st.text(max_size=12)
HOSTILE_YAML = st.one_of(
    HOSTILE_TEXT, HOSTILE_INTS, st.floats(allow_nan=True, allow_infinity=True), st.booleans(), st.none(),
    st.lists(st.integers(-3, 3), max_size=3), st.dictionaries(st.sampled_from(["a", "b"]), st.integers(), max_size=2),
)


def one_line_error(err: str, prefix: str) -> bool:
    return err.count("\n") == 1 and err.endswith("\n") and err.startswith(prefix) and "Traceback" not in err


def run_explore(argv):
    from studies import cli

    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        status = cli.main(argv)
    return status, out.getvalue(), err.getvalue()


def check_explore(argv):
    status, out, err = run_explore(argv)
    assert status in (0, 2), (argv, status, err)
    if status == 2:
        assert one_line_error(err, "explore: error: "), (argv, err)
        assert "Traceback" not in out
    else:
        assert "Traceback" not in err and "nan" not in out.lower().split() and "Infinity" not in out, (argv, out)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


_counter = itertools.count()

# ----------------------------------------------------------------------------- explore flags

#: small, valid base points: each case changes one thing
BASES = {
    "systolic": "gemm:M=4,N=4,K=4",
    "fusemax": "attention:model=bert,seq_len=16,batch=1",
    "piuma": "spgemm:rmat=4,edge_factor=2",
    "mmfree": "mmfree:layers=1,d=64",
}
ARCH_SETS = {
    "systolic": ["rows", "cols", "dataflow", "clock_mhz", "dram_gbps", "glb_mb", "pe_dim", "storage.ifmap_sram.size_bytes"],
    "fusemax": ["pe_dim", "glb_mb", "dram_gbps", "clock_mhz", "dram_staging", "config", "batch", "seq_len"],
    "piuma": ["cores", "mtp", "stp", "threads", "spad_kb", "spad_ports", "dram_gbps", "dram_latency",
              "atomics_per_cycle", "clock_mhz", "energy_pj.flop", "kernel", "seed"],
    "mmfree": ["lanes", "clock_mhz", "dram_bits", "weight_bits", "dram_latency", "vector_lanes", "tile_rows",
               "act_width", "zero_fraction", "tokens", "d", "layers"],
}
FLAG_VALUES = {
    "--jobs": HOSTILE_TEXT, "--engine": st.sampled_from(["des", "exact", ""]),
    "--format": st.sampled_from(["json", "csv", "xml"]), "--trace": st.just("NEW.trace.json"),
    "--study": st.sampled_from(["fusemax", "smash", "nope"]),
    "--out": st.sampled_from(["/", "/proc/x.json", "/nonexistent/r.json", "", ".", "NEW", "NEW/sub.json"]),
}


ARCHS = st.sampled_from(sorted(BASES) + ["nope", "", "x.yaml", "/", "../arch/presets/fusemax"])
SET_KEYS = {arch: st.one_of(st.sampled_from(keys), st.text(max_size=4)) for arch, keys in ARCH_SETS.items()}
ACTIONS = st.sampled_from(["set", "set", "flag", "resume"])
FLAGS = st.sampled_from(sorted(FLAG_VALUES))
REFUSED_BY_STUDIES = st.sampled_from([["--resume"], ["--trace", "t"], ["--dask", "x"], ["--set", "nokey=1"]])


@st.composite
def explore_argv(draw):
    arch = draw(ARCHS)
    argv = ["--arch", arch, "--workload", BASES.get(arch, "gemm:M=4,N=4,K=4"), "--quiet"]
    for _ in range(draw(st.integers(1, 3))):
        what = draw(ACTIONS)
        if what == "set":
            key = draw(SET_KEYS.get(arch, SMALL_TEXT))
            argv += ["--set", f"{key}={draw(HOSTILE_TEXT)}"]
        elif what == "flag":
            flag = draw(FLAGS)
            argv += [flag, draw(FLAG_VALUES[flag])]
        else:
            argv += ["--resume"]
    if "--study" in argv:   # a study is a long run: give it a flag it must refuse
        argv += draw(REFUSED_BY_STUDIES)
    return argv


@settings(max_examples=600, **FUZZ)
@given(argv=explore_argv())
def test_explore_flags(scratch, argv):
    fresh = str(scratch / f"o{next(_counter)}")
    check_explore([a.replace("NEW", fresh) for a in argv])


# ----------------------------------------------------------------------------- workload strings

WORKLOAD_KEYS = {
    "gemm": ["M", "N", "K", "objective", "bandwidth", "rows", "dataflow"],
    "attention": ["model", "seq_len", "batch", "config", "dram_staging", "pe_dim"],
    "end2end": ["model", "seq_len", "batch", "config"],
    "spgemm": ["matrix", "a", "b", "rmat", "edge_factor", "seed", "uniform", "cols", "nnz", "kernel"],
    "mmfree": ["model", "layers", "d", "tokens", "lanes"],
}
KIND_ARCH = {"gemm": "systolic", "attention": "fusemax", "end2end": "fusemax", "spgemm": "piuma", "mmfree": "mmfree"}


KINDS = st.sampled_from(sorted(WORKLOAD_KEYS) + ["bogus"])
KIND_KEYS = {kind: st.one_of(st.sampled_from(keys), st.text(max_size=3)) for kind, keys in WORKLOAD_KEYS.items()}
ANY_TEXT = st.text(max_size=20)


@st.composite
def workload_text(draw):
    kind = draw(KINDS)
    base = BASES[KIND_ARCH.get(kind, "systolic")].partition(":")[2]
    items = dict(i.split("=") for i in base.split(",")) if kind in ("gemm", "spgemm", "mmfree") else {}
    for _ in range(draw(st.integers(1, 3))):
        key = draw(KIND_KEYS.get(kind, SMALL_TEXT))
        items[key] = draw(HOSTILE_TEXT)
    if kind in ("attention", "end2end"):
        items.setdefault("seq_len", "16")
        items.setdefault("batch", "1")
    text = f"{kind}:" + ",".join(f"{k}={v}" for k, v in items.items())
    if draw(st.integers(0, 9)) == 0:
        text = draw(ANY_TEXT)
    return KIND_ARCH.get(kind, "systolic"), text


@settings(max_examples=600, **FUZZ)
@given(case=workload_text(), engine=st.sampled_from(["analytical", "des"]))
def test_workload_strings(case, engine):
    arch, text = case
    check_explore(["--arch", arch, "--workload", text, "--engine", engine, "--quiet", "--format", "json"])


# ----------------------------------------------------------------------------- spec documents

def _paths(node, prefix=()):
    if isinstance(node, dict):
        yield prefix
        for k, v in node.items():
            yield from _paths(v, prefix + (k,))
    else:
        yield prefix


PRESETS = {name: load_yaml_file(PRESET_DIR / f"{name}.yaml") for name in ("fusemax", "systolic", "piuma", "mmfree")}
PRESET_NAMES = st.sampled_from(sorted(PRESETS))
PRESET_PATHS = {name: st.sampled_from([p for p in _paths(data) if p]) for name, data in PRESETS.items()}


def _finite_fields(spec):
    for name, value in vars(spec).items():
        if isinstance(value, float):
            assert math.isfinite(value), (name, value)


@st.composite
def spec_document(draw):
    import copy

    name = draw(PRESET_NAMES)
    data = copy.deepcopy(PRESETS[name])
    for _ in range(draw(st.integers(1, 2))):
        path = draw(PRESET_PATHS[name])
        node = data
        for k in path[:-1]:
            node = node[k] if isinstance(node, dict) and k in node else {}
        if isinstance(node, dict):
            if draw(st.booleans()) or path[-1] not in node:
                node[path[-1]] = draw(HOSTILE_YAML)
            else:
                node[draw(SMALL_TEXT)] = draw(HOSTILE_YAML)
    return data


@settings(max_examples=500, **FUZZ)
@given(data=spec_document(), as_text=st.booleans())
def test_spec_documents(data, as_text):
    import importlib

    try:
        if as_text:   # through the YAML reader as well
            data = load_yaml(yaml.safe_dump(data, allow_unicode=True), "fuzz.yaml")
        kind = data.get("kind") if isinstance(data, dict) else None
        mod, fn = LOADERS.get(kind if isinstance(kind, str) else "", "arch.spec:spatial_from_dict").split(":")
        spec = getattr(importlib.import_module(mod), fn)(data, source="fuzz.yaml")
    except AccelError as err:
        assert "\n" not in str(err) and str(err)
        return
    _finite_fields(spec)
    assert 0 < spec.clock_hz < math.inf


@settings(max_examples=100, **FUZZ)
@given(raw=st.one_of(st.binary(max_size=64),
                     st.sampled_from([b"kind: [spatial]\n", b"? [a]\n: 1\n", b"kind: " + b"[" * 5000,
                                      b"\xff\xfekind: spatial\n", b"a: &x [*x]\n", b"a: 1\na: 2\n",
                                      b"kind: spatial\n" + b"  " * 300 + b"x: 1\n"])))
def test_spec_files_of_any_bytes(scratch, raw):
    from arch.registry import load_arch

    path = scratch / f"s{next(_counter)}.yaml"
    path.write_bytes(raw)
    try:
        load_arch(str(path))
    except AccelError as err:
        assert "\n" not in str(err)


# ----------------------------------------------------------------------------- Matrix Market

BANNERS = [b"%%MatrixMarket matrix coordinate real general", b"%%MatrixMarket matrix coordinate pattern symmetric",
           b"%%MatrixMarket matrix coordinate integer skew-symmetric", b"%%MatrixMarket matrix array real general",
           b"%%MatrixMarket matrix coordinate complex general", b"%%MatrixMarket matrix coordinate real",
           b"%%matrixmarket MATRIX Coordinate REAL General", b"%%MatrixMarket tensor coordinate real general", b""]
MM_TOKENS = st.one_of(st.integers(-2, 6).map(lambda i: str(i).encode()), st.sampled_from(
    [b"1.5", b"-2e3", b".5", b"1.", b"inf", b"nan", b"x", b"1e999", b"99999999999", b"\x00", b"\xc2\xb2", b"1,5"]))


MM_BANNER = st.sampled_from(BANNERS)
MM_SIZE = st.one_of(st.integers(0, 5), st.sampled_from([10 ** 8, 2 ** 40, 10 ** 20]))
MM_LINE = st.lists(MM_TOKENS, min_size=0, max_size=4)
MM_END = st.sampled_from([b"\n", b"", b"\n\n"])


@st.composite
def matrix_market(draw):
    lines = [draw(MM_BANNER)]
    if draw(st.booleans()):
        lines.append(b"% a comment")
    size = [draw(MM_SIZE) for _ in range(3)]
    lines.append(b" ".join(str(s).encode() for s in size[:draw(st.integers(1, 3))]))
    for _ in range(draw(st.integers(0, 6))):
        lines.append(b" ".join(draw(MM_LINE)))
    return b"\n".join(lines) + draw(MM_END)


@settings(max_examples=600, **FUZZ)
@given(raw=matrix_market())
def test_matrix_market_files(scratch, raw):
    import scipy.io

    from sim.spgemm import load_mtx
    from sim.spgemm.matrices import canonical

    path = scratch / f"m{next(_counter)}.mtx"
    path.write_bytes(raw)
    try:
        A = load_mtx(path)
    except AccelError as err:
        assert "\n" not in str(err) and str(err).startswith(str(path))
        return
    # accepted: scipy's reader (safe here: the file holds no NUL byte) must read the same matrix
    B = canonical(scipy.io.mmread(str(path)))
    assert A.shape == B.shape and (A != B).nnz == 0 and np.isfinite(A.data).all()


# ----------------------------------------------------------------------------- cascade text

# Strategies are built once (hypothesis spends most of its time on strategies built per draw).
C_INDEX = st.lists(st.sampled_from(["m", "n", "k", "0", "1", "M", "m+1", "2*m", "m*N"]), max_size=3)
C_TENSOR = st.sampled_from(["A", "B", "Z", "Y"])
C_CONST = st.sampled_from(["1", "0", "-1", "inf", "-inf", "2.5", "1e308", "nan", "x"])
C_BINOP = st.sampled_from("+-*/")
C_FUNC = st.sampled_from(["exp", "max", "div", "log", "sqrt"])
C_RANK = st.sampled_from(["rank M", "rank N", "rank K", "rank m", "rank M = 0", "rank M = -1",
                          "rank M = 99999999999999999999"])
C_OTHER = st.sampled_from(["partition M into M1, M0", "iterate m until m >= M", "init Z[0] = -inf", "init Z[m] = x"])
C_REDUCE = st.sampled_from(["", "", "sum[m] ", "max[n] ", "min[k] "])
C_SEP = st.sampled_from(["\n", ";"])


@st.composite
def cascade_text(draw):
    """Statements from the cascade grammar's pieces, shuffled and damaged; indices stay within
    rank sizes of 2 and expressions shallow (the two known failures are tested apart below)."""
    def ref():
        return f"{draw(C_TENSOR)}[{','.join(draw(C_INDEX))}]"

    def expr(depth=0):
        pick = draw(st.integers(0, 6 if depth < 3 else 2))
        if pick == 0:
            return draw(C_CONST)
        if pick in (1, 2):
            return ref()
        if pick in (3, 4):
            return f"{expr(depth + 1)} {draw(C_BINOP)} {expr(depth + 1)}"
        if pick == 5:
            return f"{draw(C_FUNC)}({expr(depth + 1)})"
        return f"({expr(depth + 1)})"

    stmts = []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.integers(0, 9))
        if kind == 0:
            stmts.append(draw(C_RANK))
        elif kind == 1:
            stmts.append(draw(C_OTHER))
        elif kind == 2:
            stmts.append(draw(SMALL_TEXT))
        else:
            stmts.append(f"{ref()} = {draw(C_REDUCE)}{expr()}")
    return draw(C_SEP).join(stmts)


@settings(max_examples=600, **FUZZ)
@given(text=cascade_text())
def test_cascade_text(text):
    from mappings import parse
    from mappings.evaluate import evaluate

    try:
        c = parse(text)
        tensors = {n: np.arange(1.0, 1.0 + 2 ** len(c.tensor_ranks[n])).reshape((2,) * len(c.tensor_ranks[n]))
                   for n in c.inputs}
        res = evaluate(c, tensors, {r: 2 for r in c.space.ranks})
    except AccelError as err:
        assert str(err) and "\n" not in str(err)
        return
    assert set(c.outputs) <= set(res)


def test_cascade_deep_expression_is_one_error():
    from mappings import parse

    try:
        parse("Z[m] = " + "(" * 250 + "A[m]" + ")" * 250)
    except AccelError:
        pass


def test_cascade_constant_index_out_of_range_is_refused():
    from mappings import parse
    from mappings.evaluate import evaluate

    c = parse("Z[m] = A[m,9]")
    with pytest.raises(AccelError):
        res = evaluate(c, {"A": np.ones((2, 2))})
        assert np.isfinite(res["Z"]).all()


def test_cascade_without_inputs_is_one_error():
    from mappings import parse
    from mappings.evaluate import evaluate

    try:
        evaluate(parse("A[] = 1"), {})
    except AccelError:
        pass


# ----------------------------------------------------------------------------- mapping files

TIMELOOP_CASE = Path(__file__).resolve().parents[1] / "data" / "timeloop" / "04-3levelspatial-kp"


def _paths(node, path=()):
    """Every key path of a YAML document (mappings by key, lists by index), containers included."""
    yield path
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for k, v in items:
        yield from _paths(v, path + (k,))


@st.composite
def mutated_yaml(draw, text: str):
    """``text`` with one change: a value replaced, a key or element deleted, an unknown key
    added, or (one case in ten) its bytes cut or one byte replaced."""
    if draw(st.integers(0, 9)) == 0:
        raw = text.encode()
        cut = draw(st.integers(0, len(raw)))
        if draw(st.booleans()):
            return raw[:cut]
        return raw[:cut] + bytes([draw(st.integers(0, 255))]) + raw[cut + 1:]
    doc = yaml.safe_load(text)
    paths = list(_paths(doc))
    path = paths[draw(st.integers(0, len(paths) - 1))]
    parent = doc
    for k in path[:-1]:
        parent = parent[k]
    how = draw(st.sampled_from(["replace", "delete", "unknown"]))
    if not path:
        doc = draw(HOSTILE_YAML)
    elif how == "replace":
        parent[path[-1]] = draw(HOSTILE_YAML)
    elif how == "delete":
        del parent[path[-1]]
    elif isinstance(parent[path[-1]], dict):
        parent[path[-1]][draw(st.sampled_from(["bogus", "tiles", "Q", "stages", "factors"]))] = draw(HOSTILE_YAML)
    else:
        parent[path[-1]] = {"bogus": draw(HOSTILE_YAML)}
    return yaml.safe_dump(doc, allow_unicode=True).encode()


def _shipped_fusemax() -> str:
    from importlib import resources

    return resources.files("mappings").joinpath("shipped", "fusemax.yaml").read_text()


@settings(max_examples=200, **FUZZ)
@given(raw=mutated_yaml(_shipped_fusemax()))
def test_cascade_mapping_files(scratch, raw):
    path = scratch / f"m{next(_counter)}.yaml"
    path.write_bytes(raw)
    check_explore(["--arch", "fusemax", "--workload", "cascade:name=attention-1pass,model=bert,seq_len=1K,batch=1",
                   "--mapping", str(path), "--quiet"])


@settings(max_examples=400, **FUZZ)
@given(raw=mutated_yaml(next(TIMELOOP_CASE.glob("*.map.yaml")).read_text()))
def test_timeloop_mapping_files(scratch, raw):
    path = scratch / f"t{next(_counter)}.map.yaml"
    path.write_bytes(raw)
    d = TIMELOOP_CASE
    check_explore(["--arch", str(d / "3levelspatial.arch.yaml"), "--workload",
                   f"timeloop:problem={next(d.glob('*.prob.yaml'))},mapping={path},ert={next(d.glob('*.ERT.yaml'))}",
                   "--quiet"])


# ----------------------------------------------------------------------------- python -m rtl

RTL_FLAGS = ["--lanes", "--rows", "--cols", "--max-rows", "--max-cols", "--act-width", "--seed", "--backpressure"]
RTL_BAD = st.one_of(st.sampled_from([w for w in HOSTILE_WORDS if w not in ("0", "-0", "1.", "2.5", "1e3", "1e-320")]
                                    + ["nan", "-1"]),
                    st.integers(-10 ** 30, -1).map(str), st.integers(2 ** 64, 10 ** 30).map(str))


@settings(max_examples=300, **FUZZ)
@given(command=st.sampled_from(["check", "synth"]), flag=st.sampled_from(RTL_FLAGS), value=RTL_BAD)
def test_rtl_flags(command, flag, value):
    from rtl.__main__ import main

    argv = [command, "--lanes", "2"] + (["--rows", "2", "--cols", "2"] if command == "check" else [])
    argv += [flag, value]
    err = io.StringIO()
    with redirect_stdout(io.StringIO()), redirect_stderr(err):
        status = main(argv)
    assert status == 2 and one_line_error(err.getvalue(), "python -m rtl"), (argv, err.getvalue())
