"""What runs and how it is laid on hardware: extended-Einsum cascades, the cascade library,
model workloads, mappings and the mapper.

The workload language::

    from mappings import parse, library
    c = library.attention(passes=1, deferred_division=True)
    out = c.evaluate({"Q": q, "K": k, "V": v}, ranks={"M0": 16})   # out["AV"] is [F, P]
    c.passes("M"), c.footprint_grows("M"), c.op_counts({"M": 1024, "P": 1024, "E": 64,
                                                         "F": 64, "M0": 256})

See ``docs/cascades.md`` for the syntax, tensor layouts and error types.
"""

from mappings import library
from mappings.einsum import (MAP_OPS, OP_CLASSES, REDUCE_OPS, Cascade, CascadeError, Const,
                             Einsum, Index, Init, Iteration, Op, Partition, Ref, Term)
from mappings.evaluate import Result
from mappings.parse import parse

__all__ = ["parse", "library", "Cascade", "CascadeError", "Einsum", "Ref", "Index", "Term",
           "Const", "Op", "Init", "Iteration", "Partition", "Result", "MAP_OPS", "REDUCE_OPS",
           "OP_CLASSES"]
