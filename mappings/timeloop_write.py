"""A :class:`mappings.nest.NestMapping` written as a Timeloop v0.4 mapping file.

In hardware terms: the mapping the hierarchy mapper found, in the form an architect hands to
``timeloop-model`` or back to ``explore --workload timeloop:...,mapping=`` (read by
:func:`mappings.timeloop.read_mapping`): per storage level a ``dataspace`` directive (kept and
bypassed tensors), a ``temporal`` directive (factors, permutation innermost first as Timeloop
lists it) and, where the level spreads copies below it, a ``spatial`` directive (the X loops
first in the permutation, ``split`` their count).
"""

from __future__ import annotations

import yaml


def _factors(pairs) -> str:
    return " ".join(f"{r}={f}" for r, f in pairs)


def timeloop_mapping(nest, shape) -> dict:
    """``{"mapping": [directive, ...]}`` for ``nest`` of ``shape`` (an EinsumShape)."""
    tensors = list(shape.tensors)
    out = []
    for lm in nest.levels:
        keep = [t for t in tensors if lm.keeps(t)]
        out.append({"target": lm.level, "type": "dataspace", "keep": keep,
                    "bypass": [t for t in tensors if t not in keep]})
        out.append({"target": lm.level, "type": "temporal", "factors": _factors(lm.temporal),
                    "permutation": "".join(r for r, _ in reversed(lm.temporal))})
        if lm.spatial_x or lm.spatial_y:
            x, y = list(reversed(lm.spatial_x)), list(reversed(lm.spatial_y))
            out.append({"target": lm.level, "type": "spatial", "factors": _factors(x + y),
                        "permutation": "".join(r for r, _ in x + y), "split": len(x)})
    return {"mapping": out}


def timeloop_mapping_text(nest, shape) -> str:
    """:func:`timeloop_mapping` as YAML text."""
    return yaml.safe_dump(timeloop_mapping(nest, shape), sort_keys=False)
