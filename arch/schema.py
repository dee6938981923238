"""Two-level flat spec schemas: ``section.field`` numbers with a type and a rule each.

The machine specs that are not spatial arrays (``kind: piuma``, ``kind: mmfree``) are a few
sections of plain numbers. One :class:`FlatSchema` describes such a layout; it applies
command-line overrides (short names such as ``lanes`` or dotted key paths), collects every
problem with its key path, and reads validated values back with their types. Numbers may
arrive as strings from the command line (``"16"``, ``"2.5e2"``); they are read with the strict
rules of :mod:`arch.numbers` (ASCII, finite, in range; an integer field takes integers only).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from arch.errors import SpecError
from arch.numbers import MAX_CLOCK_MHZ, MAX_INT, MAX_NUMBER, NumberError, parse_int, parse_number

# rule -> (lo, lo_open, hi or None for the default cap, description); "{noun}" becomes
# "integer" or "number". Integers take lo as their smallest value.
RULES = {
    "pos": (1, True, None, "a positive {noun}"),
    "nonneg": (0, False, None, "a non-negative {noun}"),
    "frac": (0, True, 1.0, "a number in (0, 1]"),
    "frac0": (0, False, 1.0 - 2 ** -53, "a number in [0, 1)"),
}


def read_field(value, typ, rule: str, name: str, hi=None):
    """``value`` checked as a ``typ`` (int or float) under ``rule`` (:data:`RULES`), strictly
    (:mod:`arch.numbers`); :class:`NumberError` naming ``name`` otherwise. ``hi`` caps it."""
    lo, lo_open, rule_hi, what = RULES[rule]
    if typ is int:
        return parse_int(value, name, lo if lo_open else 0, hi or MAX_INT)
    if rule_hi is not None:
        return parse_number(value, name, 0.0, rule_hi, lo_open, what)
    return parse_number(value, name, 0.0, hi or MAX_NUMBER, lo_open)


@dataclass(frozen=True)
class FlatSchema:
    """``sections``: section -> field -> (type, rule); top-level keys are ``kind``,
    ``description``, ``clock_mhz`` and the sections. ``short_names``: override name -> path.
    ``caps``: ``section.field`` -> largest accepted value where the default cap of
    :mod:`arch.numbers` is too loose (a count that sizes arrays)."""

    kind: str
    sections: dict
    short_names: dict
    example_path: str
    caps: dict = field(default_factory=dict)

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
            try:
                read_field(data["clock_mhz"], float, "pos", "clock_mhz", hi=MAX_CLOCK_MHZ)
            except NumberError as err:
                problems.append(("clock_mhz", str(err)))
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
                try:
                    read_field(node[key], typ, rule, key, hi=self.caps.get(f"{sec}.{key}"))
                except NumberError as err:
                    problems.append((f"{sec}.{key}", str(err)))
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
                return read_field(data[sec], float, "pos", sec, hi=MAX_CLOCK_MHZ)
            typ, rule = self.sections[sec][key]
            return read_field(data[sec][key], typ, rule, key, hi=self.caps.get(f"{sec}.{key}"))

        return data, get


def spec_name(source: str) -> str:
    """The name of a spec: its file name without the YAML suffix."""
    return source.rsplit("/", 1)[-1].removesuffix(".yaml").removesuffix(".yml")
