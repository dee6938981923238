"""The ``spgemm`` workload family: Z = A * B with one of six kernels on a PIUMA-like machine.

Operands come from a Matrix Market file (``matrix=PATH``: Z = A * A; or ``a=PATH,b=PATH``), the
Graph500 R-MAT generator (``rmat=SCALE,edge_factor=16,seed=1``: Z = A * A) or a uniform random
matrix (``uniform=ROWS,cols=COLS,nnz=NNZ,seed=1``: Z = A * A when square, else A * A^T). Machine parameters are the piuma spec's short override names.

Command line::

    explore --arch piuma --workload spgemm:matrix=PATH.mtx \\
            --workload spgemm:rmat=14,edge_factor=16,seed=1 \\
            --set kernel=inner,outer,rowwise-dram,smash-v1,smash-v2,smash-v3 --format json

A kernel is a mapping of the SpGEMM cascade (:mod:`mappings.spgemm`): ``kernel=NAME`` names a
shipped one, ``mapping=FILE.yaml`` (or the ``--mapping`` flag) an architect's own, and the
record's ``kernel`` is the mapping's name. ``--engine des`` runs the kernel's pool phases on the
discrete-event engine (:mod:`sim.des.pool`); ``--engine analytical`` bounds them in closed form
(:mod:`sim.pool_bound`), with the same counts and energy. The record's ``engine`` says which
ran. ``--trace PATH`` (des only) writes a Chrome trace of the threads and the resources.
"""

from __future__ import annotations

import os
from collections import OrderedDict

from arch.errors import WorkloadError
from studies.families import file_digest, int_param
from arch.piuma import SHORT_NAMES, PiumaSpec
from arch.registry import load_arch
from mappings.spgemm import load as load_plan
from sim.spgemm import KERNELS, expand, load_mtx, rmat, simulate, uniform_random
from sim.spgemm.simulate import check_shapes

SOURCE_KEYS = ("matrix", "a", "b", "rmat", "edge_factor", "seed", "uniform", "cols", "nnz")
WORKLOAD_KEYS = set(SOURCE_KEYS) | {"kernel", "mapping"} | set(SHORT_NAMES)
DEFAULTS = [{"rmat": "10", "edge_factor": "8", "seed": "1", "kernel": k} for k in KERNELS]

_CACHE: OrderedDict = OrderedDict()     # operand key -> (A, B, expansion), the last few


def _int(name, value, lo, hi) -> int:
    return int_param("spgemm", {name: value}, name, lo=lo, hi=hi)


def _file_key(path: str):
    """A matrix file's identity for the operand cache: its path and a digest of its bytes."""
    return (os.path.abspath(path), file_digest(path))


def input_files(arch: str, params: dict) -> list:
    """The files a point reads (the Matrix Market operands), for the sweep's resume key."""
    return [str(params[k]) for k in ("matrix", "a", "b", "mapping") if k in params]


def operands(params: dict):
    """(A, B, label fields) of a parameter set; :class:`WorkloadError` on bad or missing input."""
    given = [k for k in ("matrix", "a", "rmat", "uniform") if k in params]
    if "b" in params and "a" not in params:
        raise WorkloadError("spgemm: 'b' needs 'a' (a=PATH,b=PATH); for A*A give matrix=PATH")
    if len(given) != 1:
        raise WorkloadError("spgemm: give exactly one operand source: matrix=PATH, a=PATH[,b=PATH], "
                            f"rmat=SCALE or uniform=ROWS, not {given or 'none'}")
    src = given[0]
    for k in ("edge_factor",):
        if k in params and src != "rmat":
            raise WorkloadError(f"spgemm: '{k}' applies to rmat only")
    for k in ("cols", "nnz"):
        if k in params and src != "uniform":
            raise WorkloadError(f"spgemm: '{k}' applies to uniform only")
    if "seed" in params and src not in ("rmat", "uniform"):
        raise WorkloadError("spgemm: 'seed' applies to rmat and uniform only")
    if src in ("matrix", "a"):
        pa = str(params[src])
        pb = str(params.get("b", pa))
        key = ("files", _file_key(pa), _file_key(pb))
        label = {"matrix": os.path.basename(pa)} if src == "matrix" else {"matrix": f"{os.path.basename(pa)}*{os.path.basename(pb)}"}
        loader = lambda: (lambda A: (A, A if pb == pa else load_mtx(pb)))(load_mtx(pa))  # noqa: E731
    elif src == "rmat":
        scale = _int("rmat", params["rmat"], 1, 26)
        ef = _int("edge_factor", params.get("edge_factor", 16), 1, 1024)
        seed = _int("seed", params.get("seed", 1), 0, 2**63 - 1)
        key = ("rmat", scale, ef, seed)
        label = {"matrix": f"rmat{scale}-ef{ef}-s{seed}"}
        loader = lambda: (lambda A: (A, A))(rmat(scale, ef, seed))  # noqa: E731
    else:
        rows = _int("uniform", params["uniform"], 1, 1 << 26)
        cols = _int("cols", params.get("cols", rows), 1, 1 << 26)
        nnz = _int("nnz", params.get("nnz", min(8 * rows, rows * cols)), 1, min(1 << 28, rows * cols))
        seed = _int("seed", params.get("seed", 1), 0, 2**63 - 1)
        key = ("uniform", rows, cols, nnz, seed)
        label = {"matrix": f"uniform{rows}x{cols}-nnz{nnz}-s{seed}"}

        def loader():
            A = uniform_random(rows, cols, nnz, seed)
            return A, (A if rows == cols else A.T.tocsr())
    return key, label, loader


def _cached(key, loader):
    if key in _CACHE:
        _CACHE.move_to_end(key)
        return _CACHE[key]
    A, B = loader()
    check_shapes(A, B)
    entry = (A, B, expand(A, B, keep_product=False))
    _CACHE[key] = entry
    while len(_CACHE) > 2:
        _CACHE.popitem(last=False)
    return entry


def evaluate(arch: str, params: dict, engine: str, trace: str | None = None) -> dict:
    """One design point: a flat record with kernel, matrix, flops, nnz_z, cycles, seconds,
    energy_pj, dram_bytes, hash_probes, atomics and the Report's other fields."""
    unknown = sorted(set(params) - WORKLOAD_KEYS)
    if unknown:
        raise WorkloadError(f"spgemm: unknown parameter {unknown[0]!r} (accepted: {', '.join(sorted(WORKLOAD_KEYS))})")
    if engine not in ("analytical", "des"):
        raise WorkloadError(f"spgemm: 'engine' must be analytical or des, not {engine!r}")
    if "mapping" in params and "kernel" in params:
        raise WorkloadError("spgemm: give kernel=NAME or mapping=FILE.yaml, not both")
    kernel = str(params.get("kernel", "smash-v3"))
    if "mapping" not in params and kernel not in KERNELS:
        raise WorkloadError(f"spgemm: 'kernel' must be one of {', '.join(KERNELS)}, not {kernel!r} "
                            f"(or give mapping=FILE.yaml)")
    plan = load_plan(str(params.get("mapping", kernel)))
    overrides = {k: params[k] for k in SHORT_NAMES if k in params}
    spec = load_arch(arch, overrides)
    if not isinstance(spec, PiumaSpec):
        raise WorkloadError(f"spgemm: 'arch' must be a piuma spec (kind: piuma), not {arch!r}")
    key, label, loader = operands(params)
    A, B, e = _cached(key, loader)
    res = simulate(A, B, plan, spec, expansion=e, keep_product=False, trace=trace, engine=engine)
    rec = res.record(**params)
    rec.update(label)
    rec["arch"] = str(arch)
    rec["workload"] = "spgemm"
    rec["m"], rec["k"], rec["n"] = A.shape[0], A.shape[1], B.shape[1]
    rec["nnz_a"], rec["nnz_b"] = int(A.nnz), int(B.nnz)
    return rec
