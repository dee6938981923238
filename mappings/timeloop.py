"""Timeloop v0.4 problem and mapping files, read into an Einsum and a :class:`NestMapping`.

A *problem* names the dimensions (our ranks) with their sizes (``instance``), and per data space
(our tensors) a projection: per tensor dimension a sum of terms ``[rank]`` or
``[rank, coefficient]``; ``[[R], [P]]`` indexes by ``r+p``, ``[[R, Wdilation], [P, Wstride]]``
by ``Wdilation*r + Wstride*p``, the coefficients named under ``shape.coefficients`` with
their defaults, overridden by ``instance``; other ``instance`` keys (``H``, ``Wpad``,
``densities``: values other tools derive from) are ignored. The data space with ``read_write: true`` is the
output. Every point of the iteration space is one MAC.

A *mapping* is a list of directives, each with a ``target`` (a storage level, or for ``spatial``
also a container with a mesh) and a ``type``: ``temporal`` (``factors: "R=3 P=16"`` and
``permutation: "RP"``, innermost first as Timeloop lists it), ``spatial`` (the same, spread
over the fan-out below the target; ``split: n`` sends the first ``n`` ranks of the permutation
to X and the rest to Y; without it all go to X, or to Y when the fan-out is one wide), and
``dataspace`` / ``bypass`` / ``datatype`` (``keep: [...]``, ``bypass: [...]``). The mapper's
own output (``timeloop-mapper.map.yaml``, with targets such as ``inter_PE_spatial``) reads too. Missing factors are 1; levels
without a dataspace directive keep every tensor; ranks missing from a permutation go outermost.
"""

from __future__ import annotations

import re

from arch.errors import MappingError, WorkloadError
from arch.numbers import NumberError, parse_int
from arch.yamlio import load_yaml_file
from mappings.mapping import EinsumShape
from mappings.nest import LevelMapping, NestMapping, check

_TYPES = ("temporal", "spatial", "dataspace", "bypass", "datatype")
_ENTRY_KEYS = {"target", "type", "factors", "permutation", "split", "keep", "bypass"}


def _fail(src, path, msg, exc=WorkloadError):
    raise exc(f"{src}: {path}: {msg}")


def _int(value, lo: int = 1):
    """``value`` as an integer >= ``lo`` (strictly, :mod:`arch.numbers`), or None."""
    try:
        return parse_int(value, "", lo)
    except NumberError:
        return None


def _positive(src, path, value) -> int:
    v = _int(value)
    if v is None:
        _fail(src, path, f"'{path.rsplit('.', 1)[-1]}' must be a positive integer, not {value!r}")
    return v


def _term(src, path, term, dims, coef):
    """(coefficient, rank) of one projection term ``[rank]`` or ``[rank, coefficient]``."""
    if isinstance(term, str):
        term = [term]
    if not isinstance(term, list) or not 1 <= len(term) <= 2 or term[0] not in dims:
        _fail(src, path, f"a term must be [dimension] or [dimension, coefficient] with a dimension of "
                         f"{', '.join(dims)}, not {term!r}")
    if len(term) == 1:
        return 1, term[0]
    c = term[1]
    if isinstance(c, str) and c in coef:
        return coef[c], term[0]
    v = _int(c)
    if v is None:
        _fail(src, path, f"coefficient must be a positive integer or one of {', '.join(coef) or 'none'}, not {c!r}")
    return v, term[0]


def _projection(src, path, proj, dims, coef) -> tuple:
    if not isinstance(proj, list) or not proj:
        _fail(src, path, f"'projection' must be a list of tensor dimensions, not {proj!r}")
    out = []
    for i, dim in enumerate(proj):
        if not isinstance(dim, list) or not dim:
            _fail(src, f"{path}[{i}]", f"a tensor dimension must be a list of terms, not {dim!r}")
        out.append(tuple(_term(src, f"{path}[{i}][{j}]", t, dims, coef) for j, t in enumerate(dim)))
    return tuple(out)


def read_problem(path) -> EinsumShape:
    """An :class:`EinsumShape` (with projections) from a Timeloop v0.4 problem file."""
    src = str(path)
    data = load_yaml_file(path)
    prob = data.get("problem") if isinstance(data, dict) else None
    if not isinstance(prob, dict):
        _fail(src, "problem", f"must be a mapping with shape and instance, not {prob!r}")
    shape, inst = prob.get("shape"), prob.get("instance")
    if not isinstance(shape, dict):
        _fail(src, "problem.shape", f"must be a mapping, not {shape!r}")
    if not isinstance(inst, dict):
        _fail(src, "problem.instance", f"must be a mapping of dimension sizes, not {inst!r}")
    dims = shape.get("dimensions")
    if not isinstance(dims, list) or not dims or not all(isinstance(d, str) for d in dims):
        _fail(src, "problem.shape.dimensions", f"must be a list of dimension names, not {dims!r}")
    coef = {}
    for i, c in enumerate(shape.get("coefficients") or []):
        if not isinstance(c, dict) or not isinstance(c.get("name"), str):
            _fail(src, f"problem.shape.coefficients[{i}]", f"must be a mapping with name and default, not {c!r}")
        coef[c["name"]] = _positive(src, f"problem.shape.coefficients[{i}].default", c.get("default", 1))
    for k, v in inst.items():
        if k in coef:
            coef[k] = _positive(src, f"problem.instance.{k}", v)
    ranks = {}
    for d in dims:
        if d not in inst:
            _fail(src, f"problem.instance.{d}", "missing (every dimension needs a size)")
        ranks[d] = _positive(src, f"problem.instance.{d}", inst[d])
    spaces = shape.get("data_spaces")
    if not isinstance(spaces, list) or not spaces:
        _fail(src, "problem.shape.data_spaces", f"must be a list of data spaces, not {spaces!r}")
    projections, tensors, outputs = {}, {}, []
    for i, ds in enumerate(spaces):
        p = f"problem.shape.data_spaces[{i}]"
        if not isinstance(ds, dict) or not isinstance(ds.get("name"), str):
            _fail(src, p, f"must be a mapping with a name and a projection, not {ds!r}")
        name = ds["name"]
        projections[name] = _projection(src, f"{p}.projection", ds.get("projection"), dims, coef)
        tensors[name] = tuple(dict.fromkeys(r for dim in projections[name] for _, r in dim))
        if ds.get("read_write", False) is True:
            outputs.append(name)
    if len(outputs) != 1:
        _fail(src, "problem.shape.data_spaces", f"exactly one data space must have read_write: true, not {len(outputs)}")
    points = 1
    for v in ranks.values():
        points *= v
    return EinsumShape(str(shape.get("name", outputs[0])), ranks, tensors, outputs[0], {"mac": points}, projections)


def parse_factors(src, path, text, ranks) -> dict:
    """rank -> factor from a Timeloop ``factors`` entry (``"C=4 M=2"`` or a list of such).

    Raises :class:`arch.errors.MappingError` naming ``src`` and ``path`` for a token that is not
    ``RANK=N`` with a rank of ``ranks``.
    """
    if isinstance(text, list):
        text = " ".join(str(t) for t in text)
    out = {}
    for tok in re.split(r"[\s,]+", str(text or "").strip()):
        if not tok:
            continue
        m = re.fullmatch(r"([A-Za-z_]\w*?)=?(\d+)", tok, re.ASCII)
        if not m or m.group(1) not in ranks:
            _fail(src, path, f"a factor must be RANK=N with a rank of {', '.join(ranks)}, not {tok!r}", MappingError)
        out[m.group(1)] = int(m.group(2))
    return out


def _permutation(src, path, perm, ranks) -> list:
    """Ranks outermost first (the file lists them innermost first); missing ranks outermost."""
    if isinstance(perm, list):
        names = [str(p) for p in perm]
    else:
        text = str(perm or "")
        names = re.findall(r"[A-Za-z_]\w*", text) if (" " in text or "," in text) else list(text)
    for n in names:
        if n not in ranks:
            _fail(src, path, f"unknown rank {n!r} (ranks: {', '.join(ranks)})", MappingError)
    inner_first = list(dict.fromkeys(names)) + [r for r in ranks if r not in names]
    return inner_first[::-1]


def _target(src, path, entry, hierarchy):
    """(storage level index, fan-out position or None) of a directive's target."""
    t = entry.get("target")
    if t in hierarchy.names:
        return hierarchy.index(t), None
    for j, (name, i) in enumerate(hierarchy.fanout_names):
        if t in (name, f"inter_{name}_spatial"):
            return i, j
    allowed = ", ".join(hierarchy.names + tuple(n for n, _ in hierarchy.fanout_names))
    _fail(src, f"{path}.target", f"unknown target {t!r} (targets: {allowed})", MappingError)


def _entries(src, data):
    entries = data.get("mapping") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        _fail(src, "mapping", f"must be a list of directives, not {entries!r}", MappingError)
    seen = set()
    for i, e in enumerate(entries):
        p = f"mapping[{i}]"
        if not isinstance(e, dict):
            _fail(src, p, f"a directive must be a mapping, not {e!r}", MappingError)
        for k in e:
            if k not in _ENTRY_KEYS:
                _fail(src, f"{p}.{k}", f"unknown key (allowed: {', '.join(sorted(_ENTRY_KEYS))})", MappingError)
        kind = e.get("type")
        if kind not in _TYPES:
            _fail(src, f"{p}.type", f"'type' must be one of {', '.join(_TYPES)}, not {kind!r}", MappingError)
        kind = "dataspace" if kind in ("bypass", "datatype") else kind
        if not isinstance(e.get("target"), str):
            _fail(src, f"{p}.target", f"'target' must be the name of a level or fan-out, not {e.get('target')!r}",
                  MappingError)
        if (e.get("target"), kind) in seen:
            _fail(src, p, f"a second {kind} directive for {e.get('target')}", MappingError)
        seen.add((e.get("target"), kind))
        yield p, kind, e


def read_mapping(path, shape: EinsumShape, hierarchy) -> NestMapping:
    """A :class:`NestMapping` from a Timeloop mapping file, for ``shape`` on ``hierarchy``,
    checked (:func:`mappings.nest.check`); every error names the file.

    Directives may also target a fan-out by its container's name or by the name Timeloop's
    front end gives it (``inter_PE_spatial``): spatial factors go to the storage level above
    it (several fan-outs over one level nest outer container first); temporal factors must be
    1 and a dataspace directive must keep nothing there (Timeloop's placeholder levels).
    """
    src = str(path)
    ranks = list(shape.ranks)
    n = len(hierarchy.levels)
    temporal, keep, spatial = [()] * n, [None] * n, [[] for _ in range(n)]
    for p, kind, e in _entries(src, load_yaml_file(path)):
        lv, fan = _target(src, p, e, hierarchy)
        if kind == "dataspace":
            kept = _keep(src, p, e, shape)
            if fan is not None and kept:
                _fail(src, p, f"{e['target']} is a fan-out, not a storage level: it can keep nothing", MappingError)
            if fan is None:
                keep[lv] = kept
            continue
        f = parse_factors(src, f"{p}.factors", e.get("factors"), ranks)
        order = [(r, f.get(r, 1)) for r in _permutation(src, f"{p}.permutation", e.get("permutation"), ranks)]
        if kind == "spatial":
            spatial[lv].append((-1 if fan is None else fan, _split(src, p, e, order, hierarchy.child_fanout(lv))))
        elif fan is None:
            temporal[lv] = tuple(order)
        elif any(v > 1 for v in f.values()):
            _fail(src, f"{p}.factors", f"{e['target']} is a fan-out, not a storage level: temporal factors must "
                                       f"be 1, not {e.get('factors')!r}", MappingError)
    levels = []
    for i in range(n):
        parts = [xy for _, xy in sorted(spatial[i], key=lambda item: item[0])]
        xs = tuple(lp for x, _ in parts for lp in x)
        ys = tuple(lp for _, y in parts for lp in y)
        levels.append(LevelMapping(hierarchy.names[i], temporal[i], xs, ys, keep[i]))
    nest = NestMapping(tuple(levels))
    try:
        check(nest, shape, hierarchy)
    except MappingError as err:
        raise MappingError(f"{src}: {err}") from None
    return nest


def _keep(src, path, entry, shape):
    tensors = list(shape.tensors)
    lists = {}
    for k in ("keep", "bypass"):
        v = entry.get(k, [])
        if not isinstance(v, list) or any(t not in tensors for t in v):
            _fail(src, f"{path}.{k}", f"'{k}' must be a list of data spaces of {', '.join(tensors)}, not {v!r}",
                  MappingError)
        lists[k] = set(v)
    both = lists["keep"] & lists["bypass"]
    if both:
        _fail(src, path, f"{sorted(both)[0]} is both kept and bypassed", MappingError)
    return frozenset(t for t in tensors if t not in lists["bypass"])


def _split(src, path, entry, order, fanout):
    """(X loops, Y loops), each outermost first, from a spatial directive."""
    inner_first = order[::-1]
    split = entry.get("split")
    if split is None:
        split = 0 if fanout[0] == 1 and fanout[1] > 1 else len(inner_first)
    else:
        v = _int(split, 0)
        if v is None:
            _fail(src, f"{path}.split", f"'split' must be a non-negative integer, not {split!r}", MappingError)
        split = v
    x, y = inner_first[:split], inner_first[split:]
    return tuple(x[::-1]), tuple(y[::-1])
