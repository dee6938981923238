"""Two-level flat spec schemas: ``section.field`` numbers with a type and a rule each.

The machine specs that are not spatial arrays (``kind: piuma``, ``kind: mmfree``) are a few
sections of plain numbers. One :class:`FlatSchema` describes such a layout; it applies
command-line overrides (short names such as ``lanes`` or dotted key paths), collects every
problem with its key path, and reads validated values back with their types. Numbers may
arrive as strings from the command line (``"16"``, ``"2.5e2"``).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from arch.errors import SpecError

# rule -> (test, description); "{noun}" becomes "integer" or "number".
RULES = {
    "pos": (lambda v: v > 0, "a positive {noun}"),
    "nonneg": (lambda v: v >= 0, "a non-negative {noun}"),
    "frac": (lambda v: 0 < v <= 1, "a number in (0, 1]"),
    "frac0": (lambda v: 0 <= v < 1, "a number in [0, 1)"),
}


def coerce(value, typ):
    """``value`` as ``typ`` (int or float), accepting numeric strings; None if it is not one."""
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if typ is int:
        return int(value) if float(value).is_integer() else None
    return float(value)


@dataclass(frozen=True)
class FlatSchema:
    """``sections``: section -> field -> (type, rule); top-level keys are ``kind``,
    ``description``, ``clock_mhz`` and the sections. ``short_names``: override name -> path."""

    kind: str
    sections: dict
    short_names: dict
    example_path: str

    @property
    def top(self) -> set:
        return {"kind", "description", "clock_mhz"} | set(self.sections)

    def apply_overrides(self, data: dict, overrides: dict) -> list:
        """Set each override in ``data`` (in place); problems for names that are not keys."""
        problems = []
        for key, value in (overrides or {}).items():
            parts = self.short_names.get(key, key).split(".")
            if parts[0] not in self.top or parts[0] in ("kind", "description") or (parts[0] in self.sections) != (len(parts) == 2):
                problems.append((key, f"unknown override (short names: {', '.join(sorted(self.short_names))}; "
                                      f"or a key path such as {self.example_path})"))
                continue
            node = data
            for p in parts[:-1]:
                if not isinstance(node.get(p), dict):
                    node[p] = {}
                node = node[p]
            node[parts[-1]] = value
        return problems

    def validate(self, data: dict) -> list:
        """Every problem as (key path, message); empty if ``data`` fits the schema."""
        problems = []
        for key in data:
            if key not in self.top:
                problems.append((str(key), f"unknown key (allowed: {', '.join(sorted(self.top))})"))
        if not isinstance(data.get("description", ""), str):
            problems.append(("description", f"'description' must be a string, not {data.get('description')!r}"))
        if "clock_mhz" not in data:
            problems.append(("clock_mhz", "missing"))
        else:
            v = coerce(data["clock_mhz"], float)
            if v is None or v <= 0:
                problems.append(("clock_mhz", f"'clock_mhz' must be a positive number, not {data['clock_mhz']!r}"))
        for sec, fields in self.sections.items():
            node = data.get(sec)
            if not isinstance(node, dict):
                problems.append((sec, f"'{sec}' must be a mapping with keys {', '.join(fields)}, not {node!r}"))
                continue
            for key in node:
                if key not in fields:
                    problems.append((f"{sec}.{key}", f"unknown key (allowed: {', '.join(fields)})"))
            for key, (typ, rule) in fields.items():
                if key not in node:
                    problems.append((f"{sec}.{key}", "missing"))
                    continue
                v = coerce(node[key], typ)
                ok, what = RULES[rule]
                if v is None or not ok(v):
                    noun = "integer" if typ is int else "number"
                    problems.append((f"{sec}.{key}", f"'{key}' must be {what.format(noun=noun)}, not {node[key]!r}"))
        return problems

    def prepare(self, data, source: str, overrides: dict | None, check=None):
        """Overrides applied, validated (plus ``check(data) -> problems`` when the schema
        holds), and a typed getter ``get(section, field)``; raises one :class:`SpecError`."""
        if not isinstance(data, dict):
            raise SpecError([("", f"the {self.kind} spec must be a mapping, not {type(data).__name__}")], source)
        data = copy.deepcopy(data)
        problems = self.apply_overrides(data, overrides or {})
        problems += self.validate(data)
        if not problems and check is not None:
            problems += check(data)
        if problems:
            raise SpecError(problems, source)

        def get(sec, key=None):
            if key is None:
                return coerce(data[sec], float)
            return coerce(data[sec][key], self.sections[sec][key][0])

        return data, get


def spec_name(source: str) -> str:
    """The name of a spec: its file name without the YAML suffix."""
    return source.rsplit("/", 1)[-1].removesuffix(".yaml").removesuffix(".yml")
