"""Structural checks of a cascade: what each tensor axis ranges over, and the ordering rules.

In hardware terms these are the rules that make a stage list buildable: every tensor axis is
addressed by a declared rank (or by a derived dimension such as the sliding window ``p+r``
of a convolution's input), all stages agree on a tensor's axes, every stage's loop nest
covers its output, reductions say how they fold, and nothing is read before a stage
produces it (except a recurrence's initial value). :class:`mappings.einsum.Cascade` runs
them when it is constructed; every problem is one :class:`CascadeError` line naming the
Einsum and the rank.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mappings.terms import MAP_OPS, REDUCE_OPS, CascadeError, Index, Op, Ref, Term, rank_of, walk

if TYPE_CHECKING:  # annotations only: the Cascade runs these checks when it is built
    from mappings.einsum import Cascade, Einsum


def ranks_used(einsums, inits, partitions, iterations) -> tuple[str, ...]:
    """Every rank a cascade mentions, in order of first use (for implicit declaration)."""
    seen: dict[str, None] = {}
    for p in partitions:
        for r in (p.parent, p.outer, p.inner):
            seen.setdefault(r)
    for it in iterations:
        seen.setdefault(rank_of(it.var))
        for t in it.bound.terms:
            for s in t.shapes:
                seen.setdefault(s)
    refs = [i.ref for i in inits] + [r for e in einsums for r in (e.output, *e.inputs)]
    for r in refs:
        for ix in r.indices:
            for t in ix.terms:
                if t.var is not None:
                    seen.setdefault(rank_of(t.var))
                for s in t.shapes:
                    seen.setdefault(s)
    for e in einsums:
        for v in e.reduced:
            seen.setdefault(rank_of(v))
    return tuple(seen)


_WRITTEN_FORMS = "a rank variable (m), an offset (m1+1), a partition (m1*M0+m0) or a constant " \
                 "(M1, 0)"
_READ_FORMS = "a rank variable (m), an offset (m1+1, p-1), an affine sum (p+r, 2*p+r-1), a " \
              "partition (m1*M0+m0) or a constant (M1, 0)"


def index_rank(ix: Index, space, where: str, tensor: str, written: bool = False) -> str | None:
    """The rank an index expression ranges over (None for a bare integer).

    An affine sum of several index variables (``p+r``, ``2*p+r``) ranges over a *derived
    dimension*, named by its ranks and coefficients (``'P+R'``, ``'2*P+R'``); a tensor may be
    read through one (``written`` False) but not written through one, nor written at a
    negative offset.
    """
    for t in ix.terms:
        for r in ([rank_of(t.var)] if t.var else []) + list(t.shapes):
            if r not in space.ranks:
                raise CascadeError(f"{where}: rank {r!r} is not declared (declared: "
                                   f"{', '.join(space.ranks)})", einsum=_einsum_of(where), rank=r)
    var_terms = [t for t in ix.terms if t.var is not None]
    shaped = [t for t in ix.terms if t.shapes]
    names = [t.var for t in var_terms]
    twice = next((v for v in names if names.count(v) > 1), None)
    if twice:
        raise CascadeError(f"{where}: index '{ix}' of tensor {tensor!r} uses index variable "
                           f"{twice!r} twice", einsum=_einsum_of(where), rank=rank_of(twice))
    negative = written and sum(t.const for t in ix.terms if t.var is None and not t.shapes) < 0
    if not var_terms:
        if len(ix.terms) == 1 and shaped and len(shaped[0].shapes) == 1 and shaped[0].const == 1:
            return shaped[0].shapes[0]
        if not shaped and not negative:
            return None
    elif not shaped and not negative:
        if len(var_terms) == 1 and var_terms[0].const == 1:
            return rank_of(var_terms[0].var)
        if not written:
            return "+".join(rank_of(t.var) if t.const == 1 else f"{t.const}*{rank_of(t.var)}"
                            for t in var_terms)
    elif len(var_terms) == 2 and len(ix.terms) == 2:
        for p in space.partitions:
            if set(ix.terms) == {Term(var=p.outer.lower(), shapes=(p.inner,)),
                                 Term(var=p.inner.lower())}:
                return p.parent
    forms = _WRITTEN_FORMS if written else _READ_FORMS
    raise CascadeError(f"{where}: index '{ix}' of tensor {tensor!r} must be {forms}, not '{ix}'",
                       einsum=_einsum_of(where))


def _einsum_of(where: str) -> str | None:
    return where.split("'")[1] if where.startswith("Einsum '") else None


def assign_ranks(space, einsums, inits):
    """Give every tensor axis a rank and check that all references of a tensor agree.

    References agree when their declared ranks agree axis by axis; a constant index (None)
    or a derived dimension (``'P+R'``) agrees with anything, so a convolution may read a
    tensor that another Einsum writes by plain ranks. An axis keeps the declared rank of any
    reference, else the first derived dimension.

    Returns ``(tensor_ranks, annotate)``: tensor -> ranks, and a function that fills
    ``Ref.ranks`` in.
    """
    def differ(a, b) -> bool:
        return a in space.ranks and b in space.ranks and a != b

    tensor_ranks: dict[str, list] = {}
    first_seen: dict[str, str] = {}
    items = [(f"init of {i.ref.name!r} (line {i.line})", i.ref, True) for i in inits]
    items += [(f"Einsum {e.name!r}", r, r is e.output) for e in einsums
              for r in (e.output, *e.inputs)]
    for where, ref, written in items:
        ranks = [index_rank(ix, space, where, ref.name, written) for ix in ref.indices]
        known = tensor_ranks.get(ref.name)
        if known is None:
            tensor_ranks[ref.name], first_seen[ref.name] = ranks, where
            continue
        clash = len(known) != len(ranks) or any(differ(a, b) for a, b in zip(known, ranks))
        if clash:
            fmt = lambda rs: "[" + ", ".join(r or "?" for r in rs) + "]"  # noqa: E731
            bad = next((b for a, b in zip(known, ranks) if differ(a, b)), None)
            raise CascadeError(f"{where}: tensor {ref.name!r} is indexed by ranks {fmt(ranks)} "
                               f"here but {fmt(known)} in {first_seen[ref.name]}",
                               einsum=_einsum_of(where), rank=bad)
        tensor_ranks[ref.name] = [a if a in space.ranks else b if b in space.ranks else a or b
                                  for a, b in zip(known, ranks)]
    frozen = {k: tuple(v) for k, v in tensor_ranks.items()}

    def annotate(ref: Ref) -> Ref:
        return Ref(ref.name, ref.indices, frozen[ref.name])

    return frozen, annotate


def validate(c: Cascade) -> None:
    """Check a cascade's structure; raise :class:`CascadeError` on the first problem."""
    sp = c.space
    for p in sp.partitions:
        if len({p.parent, p.outer, p.inner}) != 3:
            raise CascadeError(f"partition of {p.parent!r}: the outer and inner ranks must be "
                               f"two new ranks, not {p.outer!r} and {p.inner!r}", rank=p.parent)
        if p.parent not in sp.ranks:
            raise CascadeError(f"partition: rank {p.parent!r} is not declared (declared: "
                               f"{', '.join(sp.ranks)})", rank=p.parent)
    for it in sp.iterations:
        if rank_of(it.var) not in sp.ranks:
            raise CascadeError(f"iterate {it.var}: rank {rank_of(it.var)!r} is not declared "
                               f"(declared: {', '.join(sp.ranks)})", rank=rank_of(it.var))
        index_rank(it.bound, sp, f"iterate {it.var}", "stop condition")
        if it.bound.variables:
            raise CascadeError(f"iterate {it.var}: the stop bound must be a constant (M1, 8), "
                               f"not '{it.bound}'", rank=rank_of(it.var))
    producer: dict[str, int] = {}
    for k, e in enumerate(c.einsums):
        if e.name in producer:
            raise CascadeError(f"Einsum {e.name!r}: tensor {e.name!r} is produced twice "
                               f"(lines {c.einsums[producer[e.name]].line} and {e.line})",
                               einsum=e.name)
        producer[e.name] = k
    initialised = {i.ref.name for i in c.inits}
    for name in c.pads:
        if name not in c.tensor_ranks:
            raise CascadeError(f"pad of {name!r}: no Einsum reads or writes {name!r}")
    for name, fmt in c.formats.items():
        _check_format(c, name, fmt)
    for i in c.inits:
        if i.ref.name not in producer:
            raise CascadeError(f"init of {i.ref.name!r}: no Einsum produces {i.ref.name!r}")
    for k, e in enumerate(c.einsums):
        _check_einsum(e)
        for r in e.inputs:
            p = producer.get(r.name)
            if p is not None and p >= k and r.name not in initialised:
                raise CascadeError(f"Einsum {e.name!r}: tensor {r.name!r} is used before it is "
                                   f"produced (by Einsum {r.name!r}, line "
                                   f"{c.einsums[p].line})", einsum=e.name)


def _check_format(c: Cascade, name: str, fmt: tuple) -> None:
    """A ``format`` statement names a tensor of the cascade and orders exactly its ranks."""
    if name not in c.tensor_ranks:
        raise CascadeError(f"format of {name!r}: no Einsum reads or writes {name!r}")
    ranks = tuple(r for r, _ in fmt)
    own = tuple(c.tensor_ranks[name])
    if sorted(ranks) != sorted(own):
        raise CascadeError(f"format of {name!r}: must order the ranks of {name} "
                           f"({', '.join(own)}), not {', '.join(ranks)}", rank=ranks[0])


def _check_einsum(e: Einsum) -> None:
    where = f"Einsum {e.name!r}"
    for n in walk(e.expr):
        if isinstance(n, Op) and (n.op not in MAP_OPS or len(n.args) != MAP_OPS[n.op]):
            raise CascadeError(f"{where}: unknown operator {n.op!r} with {len(n.args)} "
                               f"operand(s) (known: {', '.join(sorted(MAP_OPS))})", einsum=e.name)
    if e.reduce_op is not None and e.reduce_op not in REDUCE_OPS:
        raise CascadeError(f"{where}: unknown reduction operator {e.reduce_op!r} (known: "
                           f"{', '.join(REDUCE_OPS)})", einsum=e.name)
    out = e.output.variables
    rhs = tuple(dict.fromkeys(v for r in e.inputs for v in r.variables))
    for v in out:
        if v not in rhs:
            raise CascadeError(f"{where}: output rank {rank_of(v)!r} does not appear on the "
                               f"right-hand side", einsum=e.name, rank=rank_of(v))
    for v in e.reduced:
        if v in out:
            raise CascadeError(f"{where}: rank {rank_of(v)!r} is both reduced and in the "
                               f"output", einsum=e.name, rank=rank_of(v))
        if v not in rhs:
            raise CascadeError(f"{where}: reduced rank {rank_of(v)!r} does not appear on the "
                               f"right-hand side", einsum=e.name, rank=rank_of(v))
    if e.reduced and e.reduce_op is None:
        raise CascadeError(f"{where}: ranks {', '.join(e.reduced_ranks)} are reduced without an "
                           f"operator", einsum=e.name)
    for v in rhs:
        if v not in out and v not in e.reduced:
            raise CascadeError(f"{where}: rank {rank_of(v)!r} is dropped from the output without "
                               f"a reduction; write sum[{v}] or max[{v}]", einsum=e.name,
                               rank=rank_of(v))
