"""SpGEMM as a cascade, Z[m,n] = A[m,k] * B[k,n] on CSR operands, and its kernels as mappings.

In hardware terms a SpGEMM dataflow is the loop order over the ranks M, K, N of the one Einsum,
which fixes what is intersected, what is merged and where partial products live:

- inner product (``M, N, K``: K innermost) intersects the fibre A[m,:] with B[:,n] for every
  (m, n) pair: no partial products, but B is read by column, so it is staged as CSC first;
- outer product (``K, M, N``: K outermost) multiplies column k of A (staged by column) with
  row k of B, producing partial products that a later merge reduces over k;
- row-wise / Gustavson (``M, K, N``: K in the middle) scales rows of B by the entries of row m
  of A and merges them into row m of Z.

The merge of partial products (``sparse.merge`` of the mapping: none, heap, sort, hash), where
it lives (Z kept in or bypassing the scratchpad), how rows reach the threads
(``sparse.distribution``) and whether a large hash table is spread over every core
(``sparse.fragment``) are the rest of the mapping. Each of the six kernels of the command line
(``spgemm:kernel=NAME``) is a shipped mapping file of that name (``mappings/shipped/NAME.yaml``,
the same format as every cascade mapping: docs/mapping.md); ``spgemm:mapping=FILE`` takes an
architect's own. :func:`plan` checks a mapping against the cascade and returns the
:class:`SpgemmPlan` that :mod:`sim.spgemm` lowers.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from arch.errors import MappingError
from mappings import parse
from mappings.cascade_mapping import CascadeMapping, load as load_mapping

#: The SpGEMM cascade: CSR operands and product, as the Matrix Market reader delivers them.
CASCADE = """\
Z[m,n] = A[m,k] * B[k,n]
format A[M,K] = U, C
format B[K,N] = U, C
format Z[M,N] = U, C
"""

#: The kernels' names on the command line: each is a shipped mapping file.
KERNELS = ("inner", "outer", "rowwise-dram", "smash-v1", "smash-v2", "smash-v3")
#: The kernels that merge in scratchpad hash tables.
HASHING = ("smash-v1", "smash-v2", "smash-v3")
#: The unit a SpGEMM Einsum is placed on: the machine's hardware threads.
UNIT = "threads"
#: The storage level a mapping may place Z in (kept: the merge state lives there).
LEVEL = "scratchpad"
#: Merges each dataflow supports, and whether Z (the merge state) is kept in the scratchpad.
DATAFLOW_MERGES = {"inner": {"none": False}, "outer": {"heap": False}, "rowwise": {"sort": False, "hash": True}}


def cascade():
    """The one-Einsum cascade of SpGEMM with its CSR formats (a :class:`mappings.Cascade`)."""
    return parse(CASCADE, name="spgemm")


@dataclass(frozen=True)
class SpgemmPlan:
    """A checked SpGEMM mapping: what the lowering in :mod:`sim.spgemm` needs.

    Attributes
    ----------
    name : str
        The kernel's name (a shipped mapping's name, or a mapping file's stem).
    dataflow : str
        ``inner``, ``outer`` or ``rowwise`` (from the loop order).
    loop_order : tuple of str
        Ranks, outermost first.
    merge, distribution : str
        As the mapping's ``sparse`` block says (:class:`mappings.cascade_mapping.Sparse`).
    fragment : bool
    staged : tuple of str
        Operands the loop order reads in another rank order than they are stored, which the
        kernel stages first in that order (inner: B as CSC; outer: A by column).
    """

    name: str
    dataflow: str
    loop_order: tuple
    merge: str
    distribution: str
    fragment: bool
    staged: tuple = ()

    @property
    def hashing(self) -> bool:
        """True when partial products merge in hash tables (the SMASH kernels)."""
        return self.merge == "hash"


def _where(source: str, key: str) -> str:
    return f"{source}: einsums.Z.{key}"


def _dataflow(loop_order: tuple, ranks: dict, source: str) -> str:
    """inner / outer / rowwise from where the contracted rank sits in the loop order."""
    m, k, n = ranks["m"], ranks["k"], ranks["n"]
    if sorted(loop_order) != sorted((m, k, n)):
        raise MappingError(f"{_where(source, 'loop_order')}: must order the ranks {m}, {k}, {n}, "
                           f"not {', '.join(loop_order) or 'none'}")
    pos = loop_order.index(k)
    if pos == 2:
        return "inner"
    if pos == 0:
        return "outer"
    if loop_order[0] != m:
        raise MappingError(f"{_where(source, 'loop_order')}: column-wise Gustavson "
                           f"({', '.join(loop_order)}) is not modelled; row-wise is {m}, {k}, {n}")
    return "rowwise"


def _operand_ranks(c) -> dict:
    """The SpGEMM shape of a cascade: {"m", "k", "n"} -> rank names; MappingError otherwise."""
    if len(c.einsums) != 1 or len(c.inputs) != 2:
        raise MappingError(f"cascade {c.name!r}: a SpGEMM mapping needs one Einsum of two operands, "
                           f"Z[m,n] = A[m,k] * B[k,n]")
    e = c.einsums[0]
    a, b = (tuple(c.tensor_ranks[t]) for t in c.inputs)
    z = tuple(c.tensor_ranks[e.name])
    if len(a) != 2 or len(b) != 2 or len(z) != 2 or a[1] != b[0] or (a[0], b[1]) != z:
        raise MappingError(f"cascade {c.name!r}: a SpGEMM mapping needs Z[m,n] = A[m,k] * B[k,n], "
                           f"not {e}")
    return {"m": a[0], "k": a[1], "n": b[1]}


def _check_formats(c, ranks: dict) -> None:
    """The kernels read CSR operands (the Matrix Market reader's): refuse any other format."""
    want = {c.inputs[0]: (ranks["m"], ranks["k"]), c.inputs[1]: (ranks["k"], ranks["n"])}
    for t, order in want.items():
        fmt = c.formats.get(t)
        csr = ((order[0], "U"), (order[1], "C"))
        if fmt != csr:
            got = "dense" if fmt is None else f"[{','.join(r for r, _ in fmt)}] = {', '.join(f for _, f in fmt)}"
            raise MappingError(f"cascade {c.name!r}: operand {t} must be stored CSR "
                               f"(format {t}[{order[0]},{order[1]}] = U, C), not {got}")


def plan(c, m: CascadeMapping, name: str, source: str = "<mapping>") -> SpgemmPlan:
    """Check a mapping of the SpGEMM cascade ``c``; one :class:`MappingError` line on a problem.

    The checks: the cascade is Z[m,n] = A[m,k] * B[k,n] with CSR operands; the mapping places
    Z on the threads, with no spatial factors or tiles, a loop order over the three ranks, a
    ``sparse`` block whose merge the dataflow supports (inner: none; outer: heap; row-wise:
    sort or hash), Z kept in the scratchpad exactly when it is a hash table, ``static``
    distribution only for hash merges (the others hand rows out from a queue), and
    ``fragment`` only with ``tokens``.
    """
    ranks = _operand_ranks(c)
    _check_formats(c, ranks)
    z = c.einsums[0].name
    try:
        p = m.of(z)
    except MappingError:
        raise MappingError(f"{source}: einsums.{z}: is required (the SpGEMM mapping places {z})") from None
    extra = [x.einsum for x in m.placements if x.einsum != z]
    if extra or m.fusion:
        raise MappingError(f"{source}: a SpGEMM mapping places only einsums.{z}, "
                           f"not {'einsums.' + extra[0] if extra else 'fusion'}")
    if p.unit != UNIT:
        raise MappingError(f"{_where(source, 'unit')}: must be {UNIT}, not {p.unit!r}")
    if p.spatial:
        raise MappingError(f"{_where(source, 'spatial')}: SpGEMM work is cut by rows and tokens, not spatial factors")
    levels = sorted(set(p.tiles) | set(p.bypass))
    if p.tiles or any(lv != LEVEL for lv in levels):
        bad = next(iter(p.tiles), None) or levels[0]
        raise MappingError(f"{_where(source, 'levels.' + bad)}: a SpGEMM mapping takes no tiles and "
                           f"places Z in {LEVEL} only")
    if any(t != z for t in p.bypass.get(LEVEL, ())):
        raise MappingError(f"{_where(source, 'levels.' + LEVEL + '.bypass')}: only {z} is placed; "
                           f"the operands are staged as the dataflow needs")
    order = tuple(p.loop_order)
    flow = _dataflow(order, ranks, source)
    if p.sparse is None:
        raise MappingError(f"{_where(source, 'sparse')}: is required (merge, distribution, fragment)")
    s = p.sparse
    if s.merge not in DATAFLOW_MERGES[flow]:
        raise MappingError(f"{_where(source, 'sparse.merge')}: the {flow} dataflow merges by "
                           f"{' or '.join(DATAFLOW_MERGES[flow])}, not {s.merge!r}")
    kept = p.keeps(LEVEL, z)
    if kept != DATAFLOW_MERGES[flow][s.merge]:
        how = "keeps" if DATAFLOW_MERGES[flow][s.merge] else "bypasses"
        raise MappingError(f"{_where(source, 'levels.' + LEVEL)}: a {s.merge} merge {how} {z} in {LEVEL}")
    if s.distribution == "static" and s.merge != "hash":
        raise MappingError(f"{_where(source, 'sparse.distribution')}: static distribution is modelled "
                           f"for hash merges only; a {s.merge} merge takes tokens")
    if s.fragment and s.distribution != "tokens":
        raise MappingError(f"{_where(source, 'sparse.fragment')}: fragmented tables need tokens "
                           f"(any thread works on any fragment)")
    a, b = c.inputs
    reads = {a: [r for r in order if r in (ranks["m"], ranks["k"])], b: [r for r in order if r in (ranks["k"], ranks["n"])]}
    staged = tuple(t for t in (a, b) if tuple(reads[t]) != tuple(r for r, _ in c.formats[t]))
    return SpgemmPlan(name, flow, order, s.merge, s.distribution, s.fragment, staged)


def load(kernel_or_path) -> SpgemmPlan:
    """The :class:`SpgemmPlan` of a kernel name (a shipped mapping) or a mapping file's path."""
    text = str(kernel_or_path)
    is_file = text.endswith((".yaml", ".yml"))
    if not is_file and text not in KERNELS:
        raise MappingError(f"'kernel' must be one of {', '.join(KERNELS)}, not {text!r} "
                           f"(or give mapping=FILE.yaml)")
    m = load_mapping(text)
    name = Path(text).stem if is_file else text
    return plan(cascade(), m, name, text if is_file else f"{text}.yaml")
