"""Spatial accelerator specs: PE arrays, storage levels, DRAM and clock as typed, frozen objects.

In hardware terms a *spatial* accelerator is one or more arrays of processing elements (a 2D
array of ``rows x cols`` PEs, a 1D array of ``n`` PEs), each PE able to run a set of operators
at a cost in cycles and pJ; a hierarchy of on-chip storage levels (a shared global buffer,
per-PE register files, or the operand SRAMs of a systolic array), each with a capacity, a word
size, banks, an access width and a read/write energy; and off-chip DRAM with a bandwidth and an
energy per access. FuseMax, FLAT and a TPU-like systolic array are all of this kind.

A spec is read from YAML (``kind: spatial``; see docs/spec.md for an annotated example) in three
steps kept apart: overrides are applied to the raw mapping (:func:`apply_overrides`), every
problem is collected by :func:`validate_spatial` (one :class:`SpecError` listing each with its
key path), and only then are the frozen objects built (:func:`build_spatial`).

Units: ``clock_mhz`` in MHz; sizes in bytes; ``word_bits`` in bits; energies in pJ per action
(per operation for operators, per access of ``access_bytes`` bytes for storage and DRAM);
bandwidths in bytes per cycle (on-chip) or bytes per second (DRAM); ``cycles`` integers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

from arch.errors import SpecError
from arch.numbers import MAX_CLOCK_MHZ, MAX_INT, MAX_NUMBER, NumberError, parse_int, parse_number
from arch.yamlio import load_yaml, load_yaml_file

#: Operator classes a PE may support. Op counts of a cascade are keyed by these names.
OPERATORS = ("mac", "mul", "add", "sub", "max", "min", "exp", "div", "cmp", "copy",
             "sqrt", "rsqrt", "tanh", "erf")
#: Systolic dataflows (SCALE-Sim): output, weight and input stationary.
DATAFLOWS = ("os", "ws", "is")

_TOP_KEYS = {"kind", "description", "clock_mhz", "word_bits", "compute", "storage", "dram", "area"}
_UNIT_KEYS = {"shape", "operators", "dataflow", "area_mm2"}
_OP_KEYS = {"cycles", "latency_cycles", "energy_pj"}
_LEVEL_KEYS = {"size_bytes", "word_bits", "banks", "access_bytes", "read_pj", "write_pj",
               "bw_bytes_per_cycle", "ports", "per_pe_of", "area_mm2"}
_DRAM_KEYS = {"bw_bytes_per_s", "access_bytes", "access_pj", "latency_cycles"}
_GIB = 2 ** 30
_MIB = 2 ** 20
#: Largest side of a PE array (PEs per row or column); 65536 x 65536 PEs is far beyond any
#: published design, and bounds the arrays a lowering allocates per PE row.
MAX_ARRAY_DIM = 1 << 16


@dataclass(frozen=True)
class Operator:
    """One operator of a PE.

    Attributes
    ----------
    name : str
    cycles : int
        Issue interval: cycles a PE is busy per operation (1 = fully pipelined).
    latency_cycles : int
        Cycles from issue to result (pipeline depth); at least ``cycles``.
    energy_pj : float
        Energy of one operation (pJ).
    """

    name: str
    cycles: int
    latency_cycles: int
    energy_pj: float


@dataclass(frozen=True)
class ComputeUnit:
    """An array of identical PEs: ``shape`` is ``(rows, cols)`` (2D) or ``(n,)`` (1D)."""

    name: str
    shape: tuple
    operators: Mapping
    dataflow: str | None = None
    area_mm2: float | None = None
    _hash: int = field(default=0, init=False, repr=False, compare=False)

    def __post_init__(self):
        # by content, as equality compares, once (its operators' table is read-only)
        object.__setattr__(self, "_hash", hash((self.name, self.shape, tuple(self.operators.items()), self.dataflow,
                                                self.area_mm2)))

    def __hash__(self):
        return self._hash

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def pes(self) -> int:
        """Number of PEs."""
        return math.prod(self.shape)

    @property
    def rows(self) -> int:
        return self.shape[0]

    @property
    def cols(self) -> int:
        return self.shape[1] if self.ndim == 2 else 1

    def supports(self, op: str) -> bool:
        return op in self.operators

    def energy(self, op: str) -> float:
        """pJ of one operation ``op`` (one of ``operators``)."""
        return self.operators[op].energy_pj


@dataclass(frozen=True)
class StorageLevel:
    """An on-chip buffer: one shared instance, or one per PE of ``per_pe_of``.

    ``size_bytes`` is the capacity of one instance; ``access_bytes`` the bytes moved by one read
    or write action, costing ``read_pj`` / ``write_pj``; ``bw_bytes_per_cycle`` None means
    unlimited (ports * access_bytes per cycle when ``ports`` is given).
    """

    name: str
    size_bytes: int
    word_bits: int
    banks: int = 1
    access_bytes: int = 0
    read_pj: float = 0.0
    write_pj: float = 0.0
    bw_bytes_per_cycle: float | None = None
    ports: int | None = None
    per_pe_of: str | None = None
    area_mm2: float | None = None
    _hash: int = field(default=0, init=False, repr=False, compare=False)

    def __post_init__(self):
        # by content, as equality compares, once: lowerings key what they read of a level on it
        object.__setattr__(self, "_hash", hash((self.name, self.size_bytes, self.word_bits, self.banks, self.access_bytes,
                                                self.read_pj, self.write_pj, self.bw_bytes_per_cycle, self.ports,
                                                self.per_pe_of, self.area_mm2)))

    def __hash__(self):
        return self._hash

    @property
    def word_bytes(self) -> float:
        return self.word_bits / 8

    @property
    def words(self) -> int:
        """Capacity of one instance in words."""
        return int(self.size_bytes * 8 // self.word_bits)

    def energy(self, action: str) -> float:
        """pJ of one access: ``read`` at ``read_pj``, ``write`` at ``write_pj``."""
        if action == "read":
            return self.read_pj
        if action == "write":
            return self.write_pj
        raise KeyError(action)

    @property
    def read_pj_per_byte(self) -> float:
        return self.read_pj / self.access_bytes

    @property
    def write_pj_per_byte(self) -> float:
        return self.write_pj / self.access_bytes


@dataclass(frozen=True)
class Dram:
    """Off-chip memory: bandwidth (bytes/s), energy per access of ``access_bytes`` bytes (pJ)."""

    bw_bytes_per_s: float
    access_bytes: int
    access_pj: float
    latency_cycles: int = 0

    def bw_bytes_per_cycle(self, clock_hz: float) -> float:
        return self.bw_bytes_per_s / clock_hz

    @property
    def pj_per_byte(self) -> float:
        return self.access_pj / self.access_bytes


@dataclass(frozen=True)
class SpatialSpec:
    """A whole spatial accelerator; build it with :func:`spatial_from_dict` or :meth:`from_file`."""

    description: str
    clock_mhz: float
    word_bits: int
    compute: Mapping
    storage: Mapping
    dram: Dram
    source: str = "<dict>"
    data: Mapping = field(default_factory=dict, repr=False, compare=False)
    _hash: int = field(default=0, init=False, repr=False, compare=False)

    def __post_init__(self):
        # its tables are read-only: it hashes by content, once, so that what is derived from a
        # spec (a lowering's size-independent checks) can be cached on it (functools.lru_cache)
        object.__setattr__(self, "_hash", hash((self.description, self.clock_mhz, self.word_bits,
                                                tuple(self.compute.items()), tuple(self.storage.items()),
                                                self.dram, self.source)))

    def __hash__(self):
        return self._hash

    @property
    def clock_hz(self) -> float:
        return self.clock_mhz * 1e6

    def unit(self, name: str) -> ComputeUnit:
        """The compute unit ``name``; :class:`SpecError` naming the known ones if missing."""
        if name not in self.compute:
            raise SpecError([(f"compute.{name}", f"no such compute unit (units: {', '.join(self.compute)})")], self.source)
        return self.compute[name]

    def units_2d(self) -> list:
        return [u for u in self.compute.values() if u.ndim == 2]

    def shared_levels(self) -> list:
        """Storage levels with one shared instance (not per PE), in spec order."""
        return [lv for lv in self.storage.values() if lv.per_pe_of is None]

    def level(self, name: str) -> StorageLevel:
        if name not in self.storage:
            raise SpecError([(f"storage.{name}", f"no such storage level (levels: {', '.join(self.storage)})")], self.source)
        return self.storage[name]

    @classmethod
    def from_file(cls, path, overrides: dict | None = None) -> "SpatialSpec":
        return spatial_from_dict(load_yaml_file(path), source=str(path), overrides=overrides)

    @classmethod
    def from_str(cls, text: str, overrides: dict | None = None, source: str = "<string>") -> "SpatialSpec":
        return spatial_from_dict(load_yaml(text, source), source=source, overrides=overrides)


# ----------------------------------------------------------------------------- overrides

def _parse_value(value):
    """Command-line strings become values: numbers by the strict rules of :mod:`arch.numbers`
    ("32" -> 32, "2.5e2" -> 250.0), anything else by YAML ("os" -> "os", "[4,4]" -> [4, 4]);
    text that is neither stays text, and validation names it."""
    if not isinstance(value, str):
        return value
    for parse in (parse_int, parse_number):
        try:
            return parse(value, "", -MAX_INT if parse is parse_int else -MAX_NUMBER)
        except NumberError:
            pass
    try:
        return load_yaml(value, "<override>")
    except SpecError:
        return value


def _set_path(data: dict, path: str, value, problems: list):
    keys = path.split(".")
    node = data
    for i, k in enumerate(keys[:-1]):
        if not isinstance(node, dict) or k not in node:
            problems.append((path, f"no such key {'.'.join(keys[:i + 1])!r} to override"))
            return
        node = node[k]
    if not isinstance(node, dict):
        problems.append((path, "cannot override inside a non-mapping"))
        return
    node[keys[-1]] = value


def _units_of_dim(data: dict, ndim: int) -> list:
    compute = data.get("compute") if isinstance(data.get("compute"), dict) else {}
    return [n for n, u in compute.items() if isinstance(u, dict) and isinstance(u.get("shape"), list) and len(u["shape"]) == ndim]


def apply_overrides(data: dict, overrides: dict) -> tuple:
    """Return (new data, problems) with ``overrides`` applied.

    Keys are dotted key paths (``storage.glb.size_bytes``) or short names: ``pe_dim`` (every 2D
    unit becomes ``pe_dim x pe_dim``, every 1D unit ``pe_dim``), ``rows``, ``cols`` and
    ``dataflow`` (the 2D unit; the spec must have exactly one), ``glb_mb`` (the level named
    ``glb``, in MiB), ``dram_gbps`` (DRAM bandwidth in GB/s with GB = 2^30 bytes, the FuseMax
    artifact's convention) and ``clock_mhz``.
    """
    import copy

    data = copy.deepcopy(data)
    problems = []
    for key, raw in (overrides or {}).items():
        value = _parse_value(raw)
        where = f"overrides.{key}"
        if "." in key:
            _set_path(data, key, value, problems)
        elif key == "pe_dim":
            for n in _units_of_dim(data, 2):
                data["compute"][n]["shape"] = [value, value]
            for n in _units_of_dim(data, 1):
                data["compute"][n]["shape"] = [value]
        elif key in ("rows", "cols", "dataflow"):
            units = _units_of_dim(data, 2)
            if len(units) != 1:
                problems.append((where, f"needs exactly one 2D compute unit, the spec has {len(units)}"))
                continue
            unit = data["compute"][units[0]]
            if key == "dataflow":
                unit["dataflow"] = value
            else:
                unit["shape"] = list(unit["shape"])
                unit["shape"][0 if key == "rows" else 1] = value
        elif key == "glb_mb":
            storage = data.get("storage")
            if not isinstance(storage, dict) or not isinstance(storage.get("glb"), dict):
                problems.append((where, "the spec has no storage level named 'glb'"))
                continue
            if not _is_num(value) or value <= 0:
                problems.append((where, f"must be a positive number, not {raw!r}"))
                continue
            storage["glb"]["size_bytes"] = int(round(value * _MIB))
        elif key == "dram_gbps":
            if not _is_num(value) or value <= 0:
                problems.append((where, f"must be a positive number, not {raw!r}"))
                continue
            if not isinstance(data.get("dram"), dict):
                problems.append((where, "the spec has no 'dram' section"))
                continue
            data["dram"]["bw_bytes_per_s"] = value * _GIB
        elif key in ("clock_mhz", "word_bits", "description"):
            data[key] = value
        else:
            problems.append((where, "unknown parameter (use a dotted key path, or one of clock_mhz, "
                                    "cols, dataflow, dram_gbps, glb_mb, pe_dim, rows)"))
    return data, problems


# ----------------------------------------------------------------------------- validation

def _is_num(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _check_int(problems, path, v, minimum=1, cap=MAX_INT):
    """An integer field: a YAML integer in [minimum, cap] (:func:`arch.numbers.parse_int`)."""
    try:
        parse_int(v, "", minimum, cap)
    except NumberError as err:
        problems.append((path, str(err).removeprefix("'' ")))


def _check_num(problems, path, v, positive=False, cap=MAX_NUMBER):
    """A real field: finite, non-negative (or positive), at most ``cap``."""
    try:
        parse_number(v, "", 0.0, cap, lo_open=positive)
    except NumberError as err:
        problems.append((path, str(err).removeprefix("'' ")))


def _check_keys(problems, path, d, allowed, required=()):
    prefix = f"{path}." if path else ""
    for k in d:
        if k not in allowed:
            problems.append((f"{prefix}{k}", f"unknown key (allowed: {', '.join(sorted(allowed))})"))
    for k in required:
        if k not in d:
            problems.append((f"{prefix}{k}", "missing required key"))


def _check_mapping(problems, path, v) -> bool:
    if not isinstance(v, dict):
        problems.append((path, f"must be a mapping, not {v!r}"))
        return False
    return True


def validate_spatial(data) -> list:
    """Every problem of a raw spatial spec as (key path, message); empty when valid."""
    problems = []
    if not isinstance(data, dict):
        return [("", "a spec must be a YAML mapping")]
    _check_keys(problems, "", data, _TOP_KEYS, ("kind", "clock_mhz", "compute", "storage", "dram"))
    if "kind" in data and data["kind"] != "spatial":
        problems.append(("kind", f"must be 'spatial', not {data['kind']!r}"))
    if "description" in data and not isinstance(data["description"], str):
        problems.append(("description", f"must be a string, not {data['description']!r}"))
    if "clock_mhz" in data:
        _check_num(problems, "clock_mhz", data["clock_mhz"], positive=True, cap=MAX_CLOCK_MHZ)
    if "word_bits" in data:
        _check_int(problems, "word_bits", data["word_bits"])
    compute = data.get("compute", {})
    if "compute" in data and _check_mapping(problems, "compute", compute):
        if not compute:
            problems.append(("compute", "must name at least one compute unit"))
        for name, unit in compute.items():
            _validate_unit(problems, f"compute.{name}", unit)
    storage = data.get("storage", {})
    if "storage" in data and _check_mapping(problems, "storage", storage):
        for name, level in storage.items():
            _validate_level(problems, f"storage.{name}", level, compute if isinstance(compute, dict) else {},
                            has_word_bits="word_bits" in data)
    if "dram" in data and _check_mapping(problems, "dram", data["dram"]):
        d = data["dram"]
        _check_keys(problems, "dram", d, _DRAM_KEYS, ("bw_bytes_per_s", "access_bytes", "access_pj"))
        if "bw_bytes_per_s" in d:
            _check_num(problems, "dram.bw_bytes_per_s", d["bw_bytes_per_s"], positive=True)
        if "access_bytes" in d:
            _check_int(problems, "dram.access_bytes", d["access_bytes"])
        if "access_pj" in d:
            _check_num(problems, "dram.access_pj", d["access_pj"])
        if "latency_cycles" in d:
            _check_int(problems, "dram.latency_cycles", d["latency_cycles"], minimum=0)
    if "area" in data:
        _check_mapping(problems, "area", data["area"])
    return problems


def _validate_unit(problems, path, unit):
    if not _check_mapping(problems, path, unit):
        return
    _check_keys(problems, path, unit, _UNIT_KEYS, ("shape", "operators"))
    shape = unit.get("shape")
    if "shape" in unit:
        if not isinstance(shape, list) or len(shape) not in (1, 2):
            problems.append((f"{path}.shape", f"must be [rows, cols] or [n], not {shape!r}"))
            shape = None
        else:
            for i, d in enumerate(shape):
                _check_int(problems, f"{path}.shape[{i}]", d, cap=MAX_ARRAY_DIM)
    if "dataflow" in unit:
        if not isinstance(unit["dataflow"], str) or unit["dataflow"] not in DATAFLOWS:
            problems.append((f"{path}.dataflow", f"must be one of {', '.join(DATAFLOWS)}, not {unit['dataflow']!r}"))
        elif shape is not None and len(shape) != 2:
            problems.append((f"{path}.dataflow", "only a 2D array has a dataflow"))
    if "area_mm2" in unit:
        _check_num(problems, f"{path}.area_mm2", unit["area_mm2"])
    ops = unit.get("operators")
    if "operators" in unit and _check_mapping(problems, f"{path}.operators", ops):
        if not ops:
            problems.append((f"{path}.operators", "must name at least one operator"))
        for op, cost in ops.items():
            p = f"{path}.operators.{op}"
            if op not in OPERATORS:
                problems.append((p, f"unknown operator (known: {', '.join(OPERATORS)})"))
                continue
            if not _check_mapping(problems, p, cost):
                continue
            _check_keys(problems, p, cost, _OP_KEYS, ("cycles", "energy_pj"))
            if "cycles" in cost:
                _check_int(problems, f"{p}.cycles", cost["cycles"])
            if "latency_cycles" in cost:
                _check_int(problems, f"{p}.latency_cycles", cost["latency_cycles"])
                if _is_int(cost.get("cycles")) and _is_int(cost["latency_cycles"]) and 1 <= cost["latency_cycles"] < cost["cycles"]:
                    problems.append((f"{p}.latency_cycles", f"must be >= cycles ({cost['cycles']}), not {cost['latency_cycles']}"))
            if "energy_pj" in cost:
                _check_num(problems, f"{p}.energy_pj", cost["energy_pj"])


def _validate_level(problems, path, level, compute, has_word_bits):
    if not _check_mapping(problems, path, level):
        return
    required = ("size_bytes", "read_pj", "write_pj") + (() if has_word_bits else ("word_bits",))
    _check_keys(problems, path, level, _LEVEL_KEYS, required)
    for k in ("size_bytes", "word_bits", "banks", "access_bytes", "ports"):
        if k in level:
            _check_int(problems, f"{path}.{k}", level[k])
    for k in ("read_pj", "write_pj", "area_mm2"):
        if k in level:
            _check_num(problems, f"{path}.{k}", level[k])
    if "bw_bytes_per_cycle" in level:
        _check_num(problems, f"{path}.bw_bytes_per_cycle", level["bw_bytes_per_cycle"], positive=True)
    if "per_pe_of" in level and (not isinstance(level["per_pe_of"], str) or level["per_pe_of"] not in compute):
        problems.append((f"{path}.per_pe_of", f"must name a compute unit ({', '.join(compute) or 'none defined'}), not {level['per_pe_of']!r}"))


# ----------------------------------------------------------------------------- construction

def build_spatial(data: dict, source: str = "<dict>") -> SpatialSpec:
    """Build the frozen spec from a raw mapping that :func:`validate_spatial` accepted."""
    word_bits = data.get("word_bits", 16)
    compute = {}
    for name, u in data["compute"].items():
        ops = {op: Operator(op, c["cycles"], c.get("latency_cycles", c["cycles"]), float(c["energy_pj"]))
               for op, c in u["operators"].items()}
        compute[name] = ComputeUnit(name, tuple(u["shape"]), MappingProxyType(ops), u.get("dataflow"), u.get("area_mm2"))
    storage = {}
    for name, lv in data["storage"].items():
        wb = lv.get("word_bits", word_bits)
        access = lv.get("access_bytes", max(1, wb // 8))
        storage[name] = StorageLevel(
            name=name, size_bytes=lv["size_bytes"], word_bits=wb, banks=lv.get("banks", 1),
            access_bytes=access, read_pj=float(lv["read_pj"]), write_pj=float(lv["write_pj"]),
            bw_bytes_per_cycle=lv.get("bw_bytes_per_cycle",
                                      lv["ports"] * access if "ports" in lv else None),
            ports=lv.get("ports"), per_pe_of=lv.get("per_pe_of"), area_mm2=lv.get("area_mm2"))
    d = data["dram"]
    dram = Dram(float(d["bw_bytes_per_s"]), d["access_bytes"], float(d["access_pj"]), d.get("latency_cycles", 0))
    return SpatialSpec(
        description=data.get("description", ""), clock_mhz=float(data["clock_mhz"]), word_bits=word_bits,
        compute=MappingProxyType(compute), storage=MappingProxyType(storage), dram=dram, source=source,
        data=MappingProxyType(dict(data)))


def spatial_from_dict(data, source: str = "<dict>", overrides: dict | None = None) -> SpatialSpec:
    """Apply ``overrides``, validate (all problems in one :class:`SpecError`), then build."""
    if not isinstance(data, dict):
        raise SpecError([("", "a spec must be a YAML mapping")], source)
    data, problems = apply_overrides(data, overrides or {})
    problems += validate_spatial(data)
    if problems:
        raise SpecError(problems, source)
    return build_spatial(data, source)
