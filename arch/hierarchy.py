"""A memory hierarchy of any depth: storage levels, spatial fan-outs, compute leaves.

In hardware terms: a DRAM above a global buffer above per-PE register files above MACs, or any
other chain of storage levels, each possibly replicated under a spatial fan-out (a mesh of X by
Y copies under every instance of its parent). Each level has a capacity in words, a word width,
a block (vector) width (words moved by one access), read and write bandwidth and a per-action
energy. Compute units sit at the leaves, under the innermost storage level.

This is the machine that :mod:`mappings.nest` maps one Einsum onto and :mod:`sim.nest` counts
accesses on (Timeloop's model class). It is built from our own YAML (``kind: hierarchy``, read
by :func:`hierarchy_from_dict` through :mod:`arch.registry`) or from Timeloop v0.4 files
(:mod:`arch.timeloop`).

Own YAML::

    kind: hierarchy
    description: DRAM, a global buffer, 16 PEs with a register file and a MAC each
    clock_mhz: 1000
    levels:                       # outermost first
      - name: DRAM                # size omitted: unbounded
        word_bits: 8
        block_words: 32           # words per access; energies are per access
        energy_pj: {read: 2048, fill: 2048, update: 2048}
      - name: GlobalBuffer
        size_words: 32768
        word_bits: 8
        block_words: 8
        read_bw: 16               # words per cycle per instance; omitted: unlimited
        energy_pj: {read: 43.35, fill: 30.88, update: 30.88, leak: 0.008}
      - name: RegisterFile
        fanout: {x: 16, y: 1}     # copies under each GlobalBuffer instance
        fanout_name: PE           # optional: a name spatial mapping directives may target
        size_words: 64
        word_bits: 8
        energy_pj: {read: 0.43, fill: 0.43, update: 0.43}
    compute: {name: MACC, energy_pj: {compute: 0.845}}

Units: sizes in words, bandwidth in words per cycle per instance, energies in pJ per access
of one block (``leak``: pJ per cycle per instance).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from arch.errors import SpecError
from arch.numbers import NumberError
from arch.schema import read_field, spec_name

#: Actions a storage level prices (pJ per block access; ``leak`` pJ per cycle per instance).
STORAGE_ACTIONS = ("read", "fill", "update", "leak")
#: Actions a compute leaf prices (pJ per MAC; ``leak`` pJ per cycle per instance).
COMPUTE_ACTIONS = ("compute", "leak")


class _Node:
    """What a storage level and the compute leaves share: a fan-out under their parent and
    per-action energies (``fanout_x``, ``fanout_y``, ``energy_pj`` fields of the subclass)."""

    @property
    def fanout(self) -> int:
        """Copies under each parent instance: ``fanout_x * fanout_y``."""
        return self.fanout_x * self.fanout_y

    def energy(self, action: str) -> float:
        """pJ of one ``action`` (0 when the node does not price it)."""
        return dict(self.energy_pj).get(action, 0.0)


@dataclass(frozen=True)
class StorageLevel(_Node):
    """One storage level of a hierarchy.

    Attributes
    ----------
    name : str
        The level's name, as the user wrote it (``GlobalBuffer``).
    fanout_x, fanout_y : int
        Copies of this level under each instance of its parent (1 for the outermost level).
    size_words : int or None
        Capacity of one instance in words; None is unbounded (DRAM).
    word_bits : int
        Bits per word.
    block_words : int
        Words moved by one access (the vector width); energies are per access.
    read_bw, write_bw : float or None
        Words per cycle per instance for reads and for fills plus updates; None is unlimited.
    shared_bw : float or None
        Words per cycle per instance shared by every action; None is no shared limit.
    energy_pj : mapping action -> pJ
        ``read``, ``fill``, ``update``: pJ per block access; ``leak``: pJ per cycle per instance.
    """

    name: str
    fanout_x: int = 1
    fanout_y: int = 1
    size_words: int | None = None
    word_bits: int = 8
    block_words: int = 1
    read_bw: float | None = None
    write_bw: float | None = None
    shared_bw: float | None = None
    energy_pj: tuple = ()



@dataclass(frozen=True)
class ComputeLevel(_Node):
    """The compute leaves: MAC units under the innermost storage level.

    Attributes
    ----------
    name : str
        The unit's name (``MACC``).
    fanout_x, fanout_y : int
        Units under each instance of the innermost storage level.
    energy_pj : mapping action -> pJ
        ``compute``: pJ per MAC; ``leak``: pJ per cycle per unit.
    """

    name: str
    fanout_x: int = 1
    fanout_y: int = 1
    energy_pj: tuple = ()



@dataclass(frozen=True)
class Hierarchy:
    """A chain of storage levels (outermost first) above compute leaves.

    Attributes
    ----------
    name : str
        The spec's name (its file name).
    levels : tuple of StorageLevel
        Outermost (index 0, e.g. DRAM) to innermost.
    compute : ComputeLevel
        The leaves.
    clock_mhz : float
        Clock frequency (MHz); seconds = cycles / clock.
    source : str
        The file the spec came from.
    fanout_names : tuple of (str, int)
        Other names of fan-outs (a Timeloop container with a spatial mesh) with the index of
        the storage level whose copies below they spread: a mapping's spatial directive may
        target either.
    """

    name: str
    levels: tuple
    compute: ComputeLevel
    clock_mhz: float = 1000.0
    source: str = "<string>"
    fanout_names: tuple = ()

    def __post_init__(self):
        names = [lv.name for lv in self.levels] + [self.compute.name]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise SpecError([("levels", f"level name {dup[0]!r} is used twice")], self.source)
        if not self.levels:
            raise SpecError([("levels", "a hierarchy needs at least one storage level")], self.source)

    def index(self, name: str) -> int:
        """Position of the storage level ``name`` (0 = outermost); SpecError if there is none."""
        for i, lv in enumerate(self.levels):
            if lv.name == name:
                return i
        raise SpecError([("levels", f"no storage level named {name!r} (levels: {', '.join(self.names)})")],
                        self.source)

    @property
    def names(self) -> tuple:
        return tuple(lv.name for lv in self.levels)

    def instances(self, i: int) -> int:
        """Instances of storage level ``i`` in the whole machine (``len(levels)``: compute units)."""
        nodes = list(self.levels[: i + 1]) + ([self.compute] if i >= len(self.levels) else [])
        return math.prod(n.fanout for n in nodes)

    def child_fanout(self, i: int) -> tuple:
        """(x, y) copies of the node below storage level ``i`` under each instance of it."""
        child = self.levels[i + 1] if i + 1 < len(self.levels) else self.compute
        return child.fanout_x, child.fanout_y


# ----------------------------------------------------------------------------- own YAML

_LEVEL_KEYS = {"name", "fanout", "fanout_name", "size_words", "word_bits", "block_words", "read_bw", "write_bw",
               "shared_bw", "energy_pj"}
_TOP_KEYS = {"kind", "description", "clock_mhz", "levels", "compute"}


def _number(problems, path, value, typ, positive=True, allow_none=False):
    """``value`` as ``typ`` (strictly, :mod:`arch.numbers`), or a problem appended and None."""
    if value is None and allow_none:
        return None
    try:
        return read_field(value, typ, "pos" if positive else "nonneg", path.rsplit(".", 1)[-1])
    except NumberError as err:
        problems.append((path, str(err)))
        return None


def _fanout(problems, path, node):
    if node is None:
        return 1, 1
    if not isinstance(node, dict) or set(node) - {"x", "y"}:
        problems.append((path, f"'fanout' must be a mapping with keys x, y, not {node!r}"))
        return 1, 1
    x = _number(problems, f"{path}.x", node.get("x", 1), int)
    y = _number(problems, f"{path}.y", node.get("y", 1), int)
    return x or 1, y or 1


def _energies(problems, path, node, actions):
    if node is None:
        return ()
    if not isinstance(node, dict):
        problems.append((path, f"'energy_pj' must be a mapping of {', '.join(actions)}, not {node!r}"))
        return ()
    out = []
    for k, v in node.items():
        if k not in actions:
            problems.append((f"{path}.{k}", f"unknown action (allowed: {', '.join(actions)})"))
            continue
        e = _number(problems, f"{path}.{k}", v, float, positive=False)
        if e is not None:
            out.append((k, e))
    return tuple(out)


def _level(problems, path, node, first):
    if not isinstance(node, dict):
        problems.append((path, f"a level must be a mapping, not {node!r}"))
        return None
    for k in node:
        if k not in _LEVEL_KEYS:
            problems.append((f"{path}.{k}", f"unknown key (allowed: {', '.join(sorted(_LEVEL_KEYS))})"))
    name = node.get("name")
    if not isinstance(name, str) or not name:
        problems.append((f"{path}.name", f"'name' must be a non-empty string, not {name!r}"))
    fx, fy = _fanout(problems, f"{path}.fanout", node.get("fanout"))
    if first and fx * fy != 1:
        problems.append((f"{path}.fanout", f"the outermost level has one instance, not {fx * fy}"))
    return StorageLevel(
        name=str(name), fanout_x=fx, fanout_y=fy,
        size_words=_number(problems, f"{path}.size_words", node.get("size_words"), int, allow_none=True),
        word_bits=_number(problems, f"{path}.word_bits", node.get("word_bits", 8), int) or 8,
        block_words=_number(problems, f"{path}.block_words", node.get("block_words", 1), int) or 1,
        read_bw=_number(problems, f"{path}.read_bw", node.get("read_bw"), float, allow_none=True),
        write_bw=_number(problems, f"{path}.write_bw", node.get("write_bw"), float, allow_none=True),
        shared_bw=_number(problems, f"{path}.shared_bw", node.get("shared_bw"), float, allow_none=True),
        energy_pj=_energies(problems, f"{path}.energy_pj", node.get("energy_pj"), STORAGE_ACTIONS),
    )


def hierarchy_from_dict(data: dict, source: str = "<string>", overrides: dict | None = None) -> Hierarchy:
    """Validate a ``kind: hierarchy`` document and build its :class:`Hierarchy`.

    Every problem is collected with its key path into one :class:`SpecError`. ``overrides``
    are not supported for this kind (any given is a problem).
    """
    problems = [(k, "overrides are not supported for kind: hierarchy") for k in (overrides or {})]
    for k in data:
        if k not in _TOP_KEYS:
            problems.append((str(k), f"unknown key (allowed: {', '.join(sorted(_TOP_KEYS))})"))
    clock = _number(problems, "clock_mhz", data.get("clock_mhz", 1000), float)
    raw = data.get("levels")
    levels, aliases = [], []
    if not isinstance(raw, list) or not raw:
        problems.append(("levels", f"'levels' must be a non-empty list of storage levels, not {raw!r}"))
    else:
        for i, node in enumerate(raw):
            lv = _level(problems, f"levels[{i}]", node, first=i == 0)
            if lv is not None:
                levels.append(lv)
            alias = node.get("fanout_name") if isinstance(node, dict) else None
            if alias is not None:
                if not isinstance(alias, str) or i == 0:
                    problems.append((f"levels[{i}].fanout_name", f"'fanout_name' must be a string on an inner level, "
                                                                 f"not {alias!r}"))
                else:
                    aliases.append((alias, i - 1))
    comp = data.get("compute")
    compute = None
    if not isinstance(comp, dict) or not isinstance(comp.get("name"), str):
        problems.append(("compute", f"'compute' must be a mapping with a name, not {comp!r}"))
    else:
        for k in comp:
            if k not in {"name", "fanout", "energy_pj"}:
                problems.append((f"compute.{k}", "unknown key (allowed: energy_pj, fanout, name)"))
        fx, fy = _fanout(problems, "compute.fanout", comp.get("fanout"))
        compute = ComputeLevel(comp["name"], fx, fy,
                               _energies(problems, "compute.energy_pj", comp.get("energy_pj"), COMPUTE_ACTIONS))
    if problems:
        raise SpecError(problems, source)
    return Hierarchy(spec_name(source), tuple(levels), compute, clock_mhz=clock, source=source,
                     fanout_names=tuple(aliases))
