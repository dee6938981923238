"""Labels of design points: name what varies across a sweep, put what is constant in the title.

A sweep's design points are described by their parameters (``arch``, ``workload`` and every
``--workload`` / ``--set`` key, values as given). A parameter *varies* when two points give it
different values; only those go into point labels (``pe_dim=128 glb_mb=16``), in the order
they first appear, and the constant ones go once into the figure title. Two distinct points
always differ in some parameter, so their labels differ.

When a caller has no parameter dicts (records from a study or a notebook), they are taken from
the records: every scalar field that is not a result (:data:`RESULT_KEYS`).
"""

from __future__ import annotations

from dataclasses import dataclass

from arch.errors import WorkloadError

#: Record fields that are results or restate another field, never design parameters.
RESULT_KEYS = frozenset({
    "cycles", "seconds", "energy_pj", "dram_bytes", "simulated_steps", "extrapolated_steps",
    "area_mm2", "macs", "folds", "mappings_evaluated", "mappings_pruned", "mappings_rejected",
    "seq_len_tokens", "hardware", "computes",
})


def _scalar(v) -> bool:
    return isinstance(v, (str, int, float, bool)) or v is None


def params_of(record: dict) -> dict:
    """The design parameters of a record: scalar fields that are not results, in record order."""
    return {k: v for k, v in record.items() if k not in RESULT_KEYS and _scalar(v)}


def present(records, params=None) -> tuple:
    """The records that finished (not None) and their parameter dicts, kept in step."""
    keep = [i for i, r in enumerate(records) if r]
    return [records[i] for i in keep], (None if params is None else [params[i] for i in keep])


def value_text(v) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return f"{v:g}" if isinstance(v, float) else str(v)


@dataclass(frozen=True)
class Swept:
    """What a sweep varies.

    Attributes
    ----------
    params : tuple of dict
        One dict of parameters per design point (values as given).
    varying : tuple of str
        Parameters with at least two values, in order of first appearance.
    constant : dict
        Parameters with one value across every point (and present in every point).
    """

    params: tuple
    varying: tuple
    constant: dict

    @classmethod
    def of(cls, records, params=None) -> "Swept":
        """From the records and, when known, the parameter dicts of their points (same order)."""
        plist = tuple(dict(p) for p in params) if params is not None else tuple(params_of(r) for r in records)
        keys = list(dict.fromkeys(k for p in plist for k in p))
        varying, constant = [], {}
        for k in keys:
            values = {value_text(p.get(k)) for p in plist}
            if len(values) > 1 or any(k not in p for p in plist):
                varying.append(k)
            else:
                constant[k] = plist[0][k]
        return cls(plist, tuple(varying), constant)

    def label(self, i: int, skip=()) -> str:
        """``key=value`` of every varying parameter of point ``i`` (except ``skip``)."""
        p = self.params[i]
        parts = [f"{k}={value_text(p[k])}" for k in self.varying if k not in skip and k in p]
        return " ".join(parts) or "the design point"

    def labels(self, skip=()) -> list:
        """Labels of every point; distinct when ``skip`` is empty (points that no parameter tells
        apart, such as the same point given twice, are numbered ``#k``)."""
        out = [self.label(i, skip) for i in range(len(self.params))]
        if not skip and len(set(out)) < len(out):
            out = [f"{lab} #{i + 1}" if out.count(lab) > 1 else lab for i, lab in enumerate(out)]
        return out

    def title(self) -> str:
        """The constant parameters, once: ``fusemax attention model=xlm seq_len=64K``."""
        head = [value_text(self.constant[k]) for k in ("arch", "workload") if k in self.constant]
        rest = [f"{k}={value_text(v)}" for k, v in self.constant.items() if k not in ("arch", "workload")]
        return " ".join(head + rest)

    def by(self, name: str | None) -> str | None:
        """The parameter to colour and group by: ``name``, or the first varying one (None if none).

        Raises
        ------
        WorkloadError
            ``name`` is no parameter of these points.
        """
        if name is not None:
            if name not in self.varying and name not in self.constant:
                known = ", ".join(list(self.varying) + list(self.constant))
                raise WorkloadError(f"plot_by {name!r}: no such parameter (parameters: {known})")
            return name
        return self.varying[0] if self.varying else None

    def groups(self, name: str | None) -> dict:
        """Value text -> indices of the points with that value of ``name``, in order of appearance."""
        out = {}
        for i, p in enumerate(self.params):
            key = value_text(p.get(name)) if name else ""
            out.setdefault(key, []).append(i)
        return out
