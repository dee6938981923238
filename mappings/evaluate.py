"""Functional evaluator: runs a cascade on real tensors with numpy, counting every operation.

This is the golden reference for what a workload computes, not a performance path: each Einsum
is evaluated over its whole iteration space at once (an n-dimensional grid of index values),
and Einsums that iterate over an iterative rank run step by step, one loop body per step,
exactly as the running-max recurrences of the 1-pass attention cascade prescribe.

Semantics (fibertree-like, dense storage plus a presence mask):

* An element that was never written, or an index outside a tensor (the short last partition of
  ``K[e, m1*M0 + m0]``), is *absent*. A point of an Einsum's iteration space executes only when
  every operand is present; absent points are skipped by reductions and cost no operation.
* A partition's outer and inner variables together range over the parent rank only
  (``m1*M0 + m0 < M``).
* Any other index outside the operand's stored extent at a valid point (``A[m,9]`` on a 2x2
  ``A``, ``I[c,q+s-1]`` at ``q = s = 0``) is an error, unless the tensor is padded
  (``pad I = 0``): a padded tensor reads as its pad value there, and that point executes.
* An unpadded operand read through an affine index (``I[c,p+r]``) must have exactly the
  derived extent along that axis (``P+R-1``); anything else is an error.
* Returned arrays hold NaN where an element is absent.

Operations are counted per executed point and by class exactly as
:func:`mappings.analysis.einsum_op_classes` defines; the counts are returned with the tensors so
that tests can compare them with the closed forms.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Mapping

import numpy as np

from mappings.analysis import _positive, einsum_op_classes, extent, resolve_sizes
from mappings.terms import CascadeError, Const, Ref, rank_of

if TYPE_CHECKING:  # annotations only: the Cascade calls this evaluator
    from mappings.einsum import Cascade, Einsum

_UFUNC = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide,
          "max": np.maximum, "exp": np.exp, "sqrt": np.sqrt,
          "rsqrt": lambda x: 1.0 / np.sqrt(x), "tanh": np.tanh, "erf": lambda x: _erf()(x)}
_IDENTITY = {"sum": 0.0, "max": -np.inf}


def _erf():
    """scipy's erf, imported when a cascade first evaluates one (scipy is slow to import)."""
    from scipy.special import erf

    return erf


class Result(dict):
    """Tensors computed by a cascade, by name (numpy float64 arrays).

    Attributes
    ----------
    op_counts : dict
        Einsum name -> {op class: count}, counted while the evaluator ran.
    sizes : dict
        The rank sizes used (partition sizes derived).
    """

    def __init__(self, tensors, op_counts, sizes):
        super().__init__(tensors)
        self.op_counts = op_counts
        self.sizes = sizes

    def total_op_counts(self) -> dict[str, int]:
        """Op counts summed over the Einsums."""
        total: Counter = Counter()
        for d in self.op_counts.values():
            total.update(d)
        return dict(total)


def evaluate(c: Cascade, tensors: Mapping, ranks: Mapping[str, int] | None = None) -> Result:
    """Evaluate cascade ``c`` on input tensors.

    Parameters
    ----------
    c : Cascade
    tensors : mapping of str to array-like
        One array per cascade input, axes in the order of the tensor's ranks (``Q`` is
        ``[E, P]`` in attention). All inputs may carry the same extra *leading* axes (batch
        and heads, e.g. ``Q[B, H, E, P]``): the cascade is then evaluated as
        ``c.batched(...)``, each output gains the same leading axes, and op counts include them.
    ranks : mapping of str to int, optional
        Sizes of ranks not fixed by the tensors' shapes (partition sizes such as ``M0``).
        Entries for ranks the cascade does not use are ignored.

    Returns
    -------
    Result
        Every tensor the cascade produces (a dict), with ``op_counts`` measured while running.

    Raises
    ------
    CascadeError
        A missing or unknown input, a wrong number of axes, tensors disagreeing on a rank's
        size (naming the Einsum and rank), a rank without a size, an operand without the
        derived extent of an affine index, an index outside an unpadded operand.
    """
    ranks = {k: _positive(k, v) for k, v in (ranks or {}).items() if k in c.space.ranks}
    missing = [n for n in c.inputs if n not in tensors]
    if missing:
        raise CascadeError(f"cascade input {missing[0]!r} is missing (inputs: "
                           f"{', '.join(c.inputs)})")
    unknown = [n for n in tensors if n not in c.inputs]
    if unknown:
        raise CascadeError(f"tensor {unknown[0]!r} is not an input of the cascade (inputs: "
                           f"{', '.join(c.inputs)})")
    arrays = {n: np.asarray(tensors[n], dtype=np.float64) for n in c.inputs}
    extra = {n: a.ndim - len(c.tensor_ranks[n]) for n, a in arrays.items()}
    for n, a in arrays.items():
        if extra[n] < 0:
            raise CascadeError(f"tensor {n!r} must have {len(c.tensor_ranks[n])} axes "
                               f"[{', '.join(r or '?' for r in c.tensor_ranks[n])}], not shape "
                               f"{a.shape}")
    first = c.inputs[0] if c.inputs else None
    for n, a in arrays.items():
        if extra[n] != extra[first] or a.shape[:extra[n]] != arrays[first].shape[:extra[n]]:
            f, r = (n, first) if extra[n] > extra[first] else (first, n)
            raise CascadeError(f"tensors {f!r} and {r!r} must carry the same leading batch axes "
                               f"before their ranks, not shapes {arrays[f].shape} "
                               f"[{', '.join(c.tensor_ranks[f])}] and {arrays[r].shape} "
                               f"[{', '.join(c.tensor_ranks[r])}]")
    if first is not None and extra[first]:
        names = _batch_names(c, extra[first])
        c = c.batched(*names)
        ranks.update(zip(names, arrays[first].shape[:extra[first]]))
    sizes = resolve_sizes(c.space, {**ranks, **_sizes_from_tensors(c, arrays, ranks)})
    return _Run(c, arrays, sizes).run()


def _batch_names(c: Cascade, k: int) -> tuple[str, ...]:
    names = ("B", "H") if k == 2 else ("B",) if k == 1 else tuple(f"B{i}" for i in range(k))
    if any(n in c.space.ranks for n in names):
        names = tuple(f"BATCH{i}" for i in range(k))
    return names


def _sizes_from_tensors(c: Cascade, arrays, ranks) -> dict[str, int]:
    """Rank sizes read off the inputs' shapes; disagreements name the Einsum and the rank."""
    found: dict[str, tuple[int, str]] = {}
    for e in c.einsums:
        for r in e.inputs:
            if r.name not in arrays:
                continue
            for axis, (rk, ix) in enumerate(zip(r.ranks, r.indices)):
                if rk is None or not ix.variables or ix.is_affine or \
                        (not ix.is_plain and len(ix.variables) < 2):
                    continue
                size = arrays[r.name].shape[axis]
                prev = found.setdefault(rk, (size, r.name))
                if prev[0] != size:
                    raise CascadeError(f"Einsum {e.name!r}: rank {rk!r} has size {prev[0]} in "
                                       f"tensor {prev[1]!r} but {size} in tensor {r.name!r}",
                                       einsum=e.name, rank=rk)
                if rk in ranks and int(ranks[rk]) != size:
                    raise CascadeError(f"Einsum {e.name!r}: rank {rk!r} has size {size} in "
                                       f"tensor {r.name!r} but {ranks[rk]} in ranks",
                                       einsum=e.name, rank=rk)
    return {k: v[0] for k, v in found.items()}


class _Run:
    """State of one evaluation: storage (values and presence) and op counters."""

    def __init__(self, c: Cascade, arrays, sizes):
        self.c, self.sizes = c, sizes
        self.vals = dict(arrays)
        self.mask = {n: np.ones(a.shape, bool) for n, a in arrays.items()}
        self.counts = {e.name: Counter() for e in c.einsums}
        for e in c.einsums:
            shape = self._extents(e.output, e.variables)
            for i in c.inits:
                if i.ref.name == e.name:
                    shape = [max(a, b) for a, b in
                             zip(shape, self._extents(i.ref, i.ref.variables))]
            self.vals[e.name] = np.zeros(shape)
            self.mask[e.name] = np.zeros(shape, bool)
        for i in c.inits:
            grid, env = self._grid(i.ref.variables, {})
            idx = self._indices(i.ref, env, grid)
            self.vals[i.ref.name][idx] = i.value
            self.mask[i.ref.name][idx] = True

    def _extents(self, ref: Ref, variables) -> tuple[int, ...]:
        counts = {rank_of(v): extent(self.c.space, v, self.sizes) for v in variables}
        return ref.projection(self.sizes).extents(counts)

    def check_extents(self, e: Einsum) -> None:
        """Unpadded operands read through an affine index have exactly its derived extent."""
        for ref in e.inputs:
            if ref.name in self.c.pads or not any(ix.is_affine for ix in ref.indices):
                continue
            derived = self._extents(ref, e.variables)
            proj = ref.projection(self.sizes)
            for axis, ix in enumerate(ref.indices):
                have = self.vals[ref.name].shape[axis]
                if not ix.is_affine or proj.offsets[axis] < 0 or have == derived[axis]:
                    continue
                rule = " + ".join(f"{c}*({r}-1)" if c != 1 else f"({r}-1)"
                                  for c, r in proj.terms[axis])
                rule += f" + {proj.offsets[axis]}" if proj.offsets[axis] else ""
                known = ", ".join(f"{r}={self.sizes[r]}" for _, r in proj.terms[axis])
                raise CascadeError(f"Einsum {e.name!r}: tensor {ref.name!r} must have size "
                                   f"{derived[axis]} along axis {axis + 1} (index '{ix}': "
                                   f"{rule} + 1 for {known}), not {have}", einsum=e.name)

    def _grid(self, variables, fixed):
        shape = [1 if v in fixed else extent(self.c.space, v, self.sizes) for v in variables]
        env = {}
        for k, v in enumerate(variables):
            if v in fixed:
                env[v] = np.full([1] * len(variables), fixed[v])
            else:
                env[v] = np.arange(shape[k]).reshape([-1 if j == k else 1
                                                      for j in range(len(variables))])
        return tuple(shape), env

    def _indices(self, ref: Ref, env, grid):
        arrs = [np.broadcast_to(np.asarray(ix.value(env, self.sizes)), grid) for ix in ref.indices]
        return tuple(arrs)

    def run(self) -> Result:
        einsums, space = self.c.einsums, self.c.space
        k = 0
        while k < len(einsums):
            it = next((it for it in space.iterations if it.var in einsums[k].variables), None)
            if it is None:
                self.einsum(einsums[k], {})
                k += 1
                continue
            end = k
            while end + 1 < len(einsums) and it.var in einsums[end + 1].variables:
                end += 1
            for step in range(it.trips(self.sizes)):
                for e in einsums[k:end + 1]:
                    self.einsum(e, {it.var: step})
            k = end + 1
        out = {e.name: np.where(self.mask[e.name], self.vals[e.name], np.nan) for e in einsums}
        return Result(out, {n: {op: cnt for op, cnt in d.items() if cnt}
                            for n, d in self.counts.items()}, dict(self.sizes))

    def gather(self, e: Einsum, ref: Ref, env, valid):
        """Values and presence of ``ref`` over the grid; outside reads are padding or errors."""
        vals, mask = self.vals[ref.name], self.mask[ref.name]
        idx = np.broadcast_arrays(*[np.asarray(ix.value(env, self.sizes))
                                    for ix in ref.indices]) if ref.indices else []
        inside = np.ones(np.shape(idx[0]) if idx else (), bool)
        clipped = []
        for a, ix in enumerate(idx):
            inside &= (ix >= 0) & (ix < vals.shape[a])
            clipped.append(np.clip(ix, 0, vals.shape[a] - 1))
        got, present = vals[tuple(clipped)], mask[tuple(clipped)]
        if ref.name in self.c.pads:
            return np.where(inside, got, self.c.pads[ref.name]), present | ~inside
        bad = valid & ~inside
        if bad.any():
            self.outside(e, ref, env, np.argwhere(bad)[0], valid.shape)
        return got, present

    def outside(self, e: Einsum, ref: Ref, env, point, grid) -> None:
        """Raise the error for a read of ``ref`` outside its extent at grid ``point``."""
        at = {v: int(np.broadcast_to(a, grid)[tuple(point)]) for v, a in env.items()}
        shape = self.vals[ref.name].shape
        for axis, ix in enumerate(ref.indices):
            i = int(ix.value(at, self.sizes))
            if not 0 <= i < shape[axis]:
                where = ", ".join(f"{v}={x}" for v, x in at.items())
                raise CascadeError(f"Einsum {e.name!r}: index '{ix}' of tensor "
                                   f"{ref.name!r} is {i} at {where or 'the only point'}, outside "
                                   f"its axis {axis + 1} of size {shape[axis]}; declare "
                                   f"'pad {ref.name} = 0' to read zeros there",
                                   einsum=e.name)

    def expr(self, e: Einsum, node, env, valid):
        if isinstance(node, Ref):
            return self.gather(e, node, env, valid)
        if isinstance(node, Const):
            return np.float64(node.value), np.True_
        args = [self.expr(e, a, env, valid) for a in node.args]
        mask = args[0][1]
        for _, m in args[1:]:
            mask = mask & m
        return _UFUNC[node.op](*[v for v, _ in args]), mask

    def einsum(self, e: Einsum, fixed) -> None:
        variables = e.variables
        grid, env = self._grid(variables, fixed)
        valid = np.ones(grid, bool)
        for p in self.c.space.partitions:
            o, i = p.outer.lower(), p.inner.lower()
            if o in env and i in env:
                valid &= env[o] * self.sizes[p.inner] + env[i] < self.sizes[p.parent]
        self.check_extents(e)
        with np.errstate(all="ignore"):  # absent points may hold garbage; they are masked
            vals, mask = self.expr(e, e.expr, env, valid)
        mask = np.broadcast_to(mask, grid) & valid
        vals = np.broadcast_to(vals, grid)
        executed = int(np.count_nonzero(mask))
        for op, per_point in einsum_op_classes(e).items():
            self.counts[e.name][op] += per_point * executed
        if e.reduce_op is not None:
            axes = tuple(variables.index(v) for v in e.reduced)
            vals = getattr(np, e.reduce_op)(np.where(mask, vals, _IDENTITY[e.reduce_op]),
                                            axis=axes, keepdims=True)
            mask = np.any(mask, axis=axes, keepdims=True)
            red_env = {v: a for v, a in env.items() if v not in e.reduced}
        else:
            red_env = env
        idx = self._indices(e.output, red_env, mask.shape)
        if not idx:  # a scalar output: the whole space was reduced to one point
            if mask.any():
                self.vals[e.name][()], self.mask[e.name][()] = vals.reshape(-1)[0], True
            return
        self.vals[e.name][tuple(i[mask] for i in idx)] = vals[mask]
        self.mask[e.name][tuple(i[mask] for i in idx)] = True


__all__ = ["evaluate", "Result"]
