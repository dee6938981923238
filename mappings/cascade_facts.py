"""A cascade at rank sizes as a plan and its lowering read it.

Each Einsum's facts (its ranks, references, operators) are computed once per cascade
(:func:`einsum_facts`: an :class:`~mappings.einsum.Einsum` derives them on every access), and
each reference's projection (the extent of its tile along each axis when its ranks take given
tiles) once per cascade, or once per rank sizes it reads (a partition's ``m1*M0+m0``):
:class:`CascadeFacts` gathers them at one point.
"""

from __future__ import annotations

import math
from functools import lru_cache
from itertools import repeat
from types import MappingProxyType


def axis_extents(axes: tuple, ext) -> tuple:
    """Elements along each axis (``axes``: a reference's projection terms) when its ranks take
    ``ext`` values (1 when absent)."""
    out = []
    for terms in axes:
        n = 1
        for c, r in terms:
            n += c * (ext.get(r, 1) - 1)
        out.append(n)
    return tuple(out)


class EinsumFacts:
    """The properties of an Einsum a plan and its lowering read, computed once (an
    :class:`Einsum` derives them on every access)."""

    __slots__ = ("name", "ranks", "inputs", "input_tensors", "output", "output_ranks", "space", "expr", "reduce_op",
                 "ops")

    def __init__(self, e):
        self.name, self.ranks, self.inputs = e.name, e.ranks, e.inputs
        self.input_tensors, self.output, self.output_ranks, self.space = e.input_tensors, e.output, e.output_ranks, e.space
        self.expr, self.reduce_op = e.expr, e.reduce_op
        self.ops = tuple(e.op_classes())   # the operators it uses (a point's, in OP_CLASSES order)


@lru_cache(maxsize=64)
def einsum_facts(cascade) -> tuple:
    """The facts of a cascade's Einsums, once per cascade object (a :class:`Cascade` is not
    changed after construction, and hashes by identity)."""
    return tuple(EinsumFacts(e) for e in cascade.einsums)


class EinsumTable:
    """The facts of a cascade's Einsums (:func:`einsum_facts`) looked up by name."""

    def __init__(self, einsums: tuple):
        self.einsums = einsums
        self._by = {e.name: e for e in einsums}   # the last Einsum producing a tensor

    def einsum(self, name: str):
        return self._by[name]


@lru_cache(maxsize=64)
def _ref_forms(cascade) -> tuple:
    """Per reference of :func:`einsum_facts` of ``cascade`` (each Einsum's output, then its
    inputs): (reference, :func:`_ref_form` of its projection, ()) when its projection reads no
    rank size, else (reference, None, the ranks whose sizes it reads): projected at the sizes
    (:class:`CascadeFacts`, :func:`_sized_form`)."""
    out = []
    for e in einsum_facts(cascade):
        for r in (e.output, *e.inputs):
            reads = tuple(dict.fromkeys(sh for ix in r.indices for t in ix.terms for sh in t.shapes))
            out.append((r, None, reads) if reads else (r, _ref_form(r.projection().terms), ()))
    return tuple(out)


@lru_cache(maxsize=64)
def ref_forms_by_id(cascade) -> tuple:
    """:func:`_ref_forms` of ``cascade`` as (reference id -> form of those that read no rank
    size, (index, reference, sizes read) of the others)."""
    forms = _ref_forms(cascade)
    return (MappingProxyType({id(r): form for r, form, _ in forms if form is not None}),
            tuple((k, r, reads) for k, (r, form, reads) in enumerate(forms) if form is None))


@lru_cache(maxsize=4096)
def _sized_form(cascade, k: int, values: tuple) -> tuple:
    """:func:`_ref_form` of the ``k``-th reference of :func:`_ref_forms` of ``cascade`` when the
    ranks whose sizes it reads take ``values``."""
    ref, _, reads = _ref_forms(cascade)[k]
    return _ref_form(ref.projection(dict(zip(reads, values))).terms)


@lru_cache(maxsize=64)
def _static_terms(cascade) -> MappingProxyType:
    """:meth:`CascadeFacts.terms_of` of each Einsum of :func:`einsum_facts` of ``cascade``
    (by identity) whose references' projections read no rank size."""
    static = ref_forms_by_id(cascade)[0]
    return MappingProxyType({id(e): tuple((r.name, static[id(r)][0]) for r in (e.output, *e.inputs))
                             for e in einsum_facts(cascade) if all(id(r) in static for r in (e.output, *e.inputs))})


@lru_cache(maxsize=4096)
def _ref_form(terms: tuple) -> tuple:
    """(projection ``terms``, :func:`_plain_axes` of them, the ranks they name)."""
    return terms, _plain_axes(terms), frozenset(r for axis in terms for _, r in axis)


def _plain_axes(terms: tuple) -> tuple | None:
    """The rank of each axis of a reference whose axes are each one rank with coefficient 1
    (``terms``: its projection's), whose extents are then its ranks' own; else None."""
    if all(len(t) == 1 and t[0][0] == 1 for t in terms):
        return tuple(t[0][1] for t in terms)
    return None


class CascadeFacts(EinsumTable):
    """A cascade at rank sizes ``sizes`` (every rank's: :meth:`Cascade.rank_sizes`) as the plan
    reads it: its Einsums' facts, looked up by name, and the projection of each of their
    references (a tensor's axes as ranks)."""

    def __init__(self, cascade, sizes: dict):
        super().__init__(einsum_facts(cascade))
        self.cascade, self.sizes = cascade, sizes
        self.outputs, self.space, self.rank_sizes = cascade.outputs, cascade.space, cascade.rank_sizes
        # (terms, plain axes, ranks) keyed by the identity of references these facts hold
        # (alive as long as they are)
        static, sized = ref_forms_by_id(cascade)
        self._forms = dict(static)
        for k, r, reads in sized:
            if all(x in sizes for x in reads):
                self._forms[id(r)] = _sized_form(cascade, k, tuple(sizes[x] for x in reads))
            else:   # refused: the projection names the size it lacks
                self._forms[id(r)] = _ref_form(r.projection(sizes).terms)
        self._einsum_terms = dict(_static_terms(cascade))

    def extents(self, ref, ext: dict) -> tuple:
        """Elements of each axis of ``ref``'s tile (one of these Einsums' references) when its
        ranks take ``ext`` values (:func:`axis_extents`; a plain reference's are its ranks' own)."""
        terms, ranks, _ = self._forms[id(ref)]
        if ranks is not None:
            return tuple(map(ext.get, ranks, repeat(1)))
        return axis_extents(terms, ext)

    def words(self, ref, ext: dict) -> int:
        """Words of ``ref``'s tile when its ranks take ``ext`` values: the product of its
        :meth:`extents`."""
        terms, ranks, _ = self._forms[id(ref)]
        if ranks is not None:
            return math.prod(map(ext.get, ranks, repeat(1)))
        return math.prod(axis_extents(terms, ext))

    def form(self, ref) -> tuple:
        """(projection terms, plain axes or None, ranks) of ``ref``: references of equal forms
        have equal extents on equal tiles."""
        return self._forms[id(ref)]

    def terms_of(self, e) -> tuple:
        """(tensor, projection terms) of Einsum ``e``'s output, then of each of its inputs."""
        got = self._einsum_terms.get(id(e))
        if got is None:
            got = self._einsum_terms[id(e)] = tuple((r.name, self._forms[id(r)][0]) for r in (e.output, *e.inputs))
        return got

    def ranks_of(self, ref) -> frozenset:
        """The ranks indexing ``ref``."""
        return self._forms[id(ref)][2]
