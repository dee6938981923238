"""Sweeps: a list of independent design points, run locally or on a Dask cluster.

A :class:`Point` is one (architecture, workload kind, parameters, engine, and the digests of
the files it reads). :func:`expand` makes the cartesian product of workload parameters and
``--set`` values. :func:`run_points` evaluates points on a process pool (``jobs``, capped at the
number of points; workers end with the parent, :mod:`studies.pool`) or a Dask distributed
cluster (``dask``) and hands each record to a callback as soon as it finishes, so that the
caller can stream it to a journal (:mod:`studies.journal`): an interrupted sweep (even by
``kill -9``) resumes without recomputing finished points, and a point whose spec or matrix
file changed since is computed again (its key holds a SHA-256 of each file's bytes).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from concurrent.futures import as_completed
from dataclasses import dataclass, field

from arch.errors import AccelError, SimulationError, WorkloadError
from studies.families import file_digest
from studies.pool import worker_pool

#: Largest number of design points one sweep expands to (checked before any is built).
MAX_POINTS = 1 << 20


@dataclass(frozen=True)
class Point:
    """One design point: what to evaluate and with which engine."""

    arch: str
    kind: str
    params: tuple  # sorted (key, value) pairs, values as given (strings from the CLI)
    engine: str = "analytical"
    trace: str | None = field(default=None, compare=False)
    inputs: tuple = ()  # (path, SHA-256 of its bytes) of every file the point reads

    @property
    def key(self) -> str:
        """A stable identity for resuming: same inputs (file contents included), same key."""
        blob = json.dumps([self.arch, self.kind, list(self.params), self.engine, [list(i) for i in self.inputs]],
                          sort_keys=True)
        return hashlib.sha1(blob.encode()).hexdigest()[:16]

    def describe(self) -> str:
        args = ",".join(f"{k}={v}" for k, v in self.params)
        return f"{self.kind}:{args}" if args else self.kind


def parse_assignments(text: str, where: str) -> dict:
    """``k=v,k2=v2`` -> dict; one clear error naming ``where`` on malformed text."""
    out = {}
    if not text:
        return out
    for item in text.split(","):
        if "=" not in item:
            raise WorkloadError(f"{where}: expected key=value, not {item!r}")
        k, v = item.split("=", 1)
        k, v = k.strip(), v.strip()
        if not k or not v:
            raise WorkloadError(f"{where}: expected key=value, not {item!r}")
        if k in out:
            raise WorkloadError(f"{where}: key {k!r} given twice")
        out[k] = v
    return out


def parse_set(text: str) -> tuple[str, list]:
    """``KEY=V1,V2`` -> (KEY, [V1, V2])."""
    if "=" not in text:
        raise WorkloadError(f"--set {text}: expected KEY=V1,V2,...")
    k, vs = text.split("=", 1)
    values = [v.strip() for v in vs.split(",")]
    if not k.strip() or not all(values):
        raise WorkloadError(f"--set {text}: expected KEY=V1,V2,... with no empty value")
    return k.strip(), values


def expand(arch: str, workloads: list, sets: list, engine: str) -> list:
    """Cartesian product: every workload point times every combination of ``--set`` values.

    ``workloads`` is a list of (kind, params dict); ``sets`` a list of (key, values).
    A ``--set`` key overrides the same key of a workload. Each point carries the digests of
    the files it reads (:func:`input_files`). More than :data:`MAX_POINTS` points are refused
    before any is built.
    """
    keys = [k for k, _ in sets]
    dup = {k for k in keys if keys.count(k) > 1}
    if dup:
        raise WorkloadError(f"--set {sorted(dup)[0]} given twice")
    count = len(workloads) * math.prod(len(vs) for _, vs in sets)
    if count > MAX_POINTS:
        raise WorkloadError(f"a sweep must have at most {MAX_POINTS} design points, not {count}")
    combos = list(itertools.product(*[vs for _, vs in sets])) or [()]
    digests = {}
    points, seen = [], set()
    for kind, params in workloads:
        for combo in combos:
            merged = dict(params)
            merged.update(zip(keys, combo))
            files = input_files(str(arch), kind, merged)
            for f in files:
                if f not in digests:
                    digests[f] = file_digest(f)
            p = Point(arch=str(arch), kind=kind, params=tuple(sorted((k, str(v)) for k, v in merged.items())),
                      engine=engine, inputs=tuple((f, digests[f]) for f in files))
            if p.key not in seen:
                seen.add(p.key)
                points.append(p)
    return points


def input_files(arch: str, kind: str, params: dict) -> list:
    """The files a point reads: its spec file (a preset's too) and the family's own inputs."""
    from arch.registry import resolve
    from studies.families import family

    fam = family(kind)
    extra = fam.input_files(arch, params) if hasattr(fam, "input_files") else []
    return list(dict.fromkeys([str(resolve(arch))] + [str(f) for f in extra]))


def check_keys(point: Point):
    """Refuse a parameter the point's family does not accept, before anything runs."""
    from studies.families import family

    fam = family(point.kind)
    accepts = getattr(fam, "accepts", lambda key: False)  # e.g. a cascade's RANK=SIZE keys
    unknown = sorted(k for k in set(dict(point.params)) - set(fam.WORKLOAD_KEYS) if not accepts(k))
    if unknown:
        raise WorkloadError(
            f"{point.kind}: unknown parameter {unknown[0]!r} (accepted: {', '.join(sorted(fam.WORKLOAD_KEYS))})"
        )
    return fam


def evaluate_point(point: Point) -> dict:
    """Evaluate one point through its family; runs in a worker process or on a Dask worker."""
    fam = check_keys(point)
    rec = fam.evaluate(point.arch, dict(point.params), point.engine, trace=point.trace)
    head = {"arch": point.arch, "workload": point.kind}
    head.update({k: v for k, v in rec.items() if k not in head})
    head.setdefault("engine", point.engine)
    _check_finite(head)
    return head


def _check_finite(record: dict, prefix: str = ""):
    """Refuse a record with an infinite or NaN number: it is never a result, always an input
    beyond what the models cover (a bandwidth or clock at the edge of the accepted range)."""
    for k, v in record.items():
        if isinstance(v, dict):
            _check_finite(v, f"{prefix}{k}.")
        elif isinstance(v, float) and not math.isfinite(v):
            raise SimulationError(f"the result '{prefix}{k}' is {v}: the inputs are beyond what the model covers")


class _Failure:
    """An AccelError raised in a worker, carried back as data (its message is the payload)."""

    def __init__(self, message):
        self.message = message


def _safe_evaluate(point: Point):
    try:
        return evaluate_point(point)
    except AccelError as err:
        return _Failure(str(err))


def run_points(points, on_record, jobs: int = 1, dask: str | None = None):
    """Evaluate ``points``; call ``on_record(index, point, record)`` as each one finishes.

    Stops at the first point whose input is bad, after every record that finished before it
    has been handed over, and raises that error. ``jobs`` is capped at ``len(points)``.
    """
    if dask:
        return _run_dask(points, on_record, dask)
    if jobs <= 1 or len(points) <= 1:
        for i, p in enumerate(points):
            res = _safe_evaluate(p)
            if isinstance(res, _Failure):
                raise AccelError(f"{p.describe()}: {res.message}")
            on_record(i, p, res)
        return
    failure = None
    with worker_pool(min(jobs, len(points))) as pool:
        futures = {pool.submit(_safe_evaluate, p): i for i, p in enumerate(points)}
        for fut in as_completed(futures):
            i = futures[fut]
            res = fut.result()
            if isinstance(res, _Failure):
                failure = failure or AccelError(f"{points[i].describe()}: {res.message}")
                for f in futures:
                    f.cancel()
                continue
            on_record(i, points[i], res)
    if failure:
        raise failure


def _run_dask(points, on_record, address: str):
    try:
        from distributed import Client, as_completed as dask_completed
    except ImportError:  # pragma: no cover - dask[distributed] is a dependency
        raise WorkloadError("--dask needs the 'distributed' package") from None
    try:
        client = Client(address, timeout="10s")
    except (OSError, TimeoutError, ValueError) as err:
        raise WorkloadError(f"--dask {address}: cannot reach the scheduler ({err})") from None
    failure = None
    try:
        futures = [client.submit(_safe_evaluate, p, pure=False) for p in points]
        index = {f.key: i for i, f in enumerate(futures)}
        for fut in dask_completed(futures):
            i = index[fut.key]
            res = fut.result()
            if isinstance(res, _Failure):
                failure = failure or AccelError(f"{points[i].describe()}: {res.message}")
                continue
            on_record(i, points[i], res)
    finally:
        client.close()
    if failure:
        raise failure
