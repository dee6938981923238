"""Timeloop v0.4 architecture files and Accelergy energy reference tables, read into a
:class:`arch.hierarchy.Hierarchy`.

In hardware terms: a Timeloop architecture is a list of nodes, outermost first. A
``!Container`` groups what follows; with ``spatial: {meshX, meshY}`` everything below it is
replicated that many times under each instance of the storage level above. A ``!Component``
is a storage level (classes ``DRAM``, ``SRAM``, ``regfile``, ``storage``, ``smartbuffer_*``,
anything with a ``depth``) or the compute leaf (``intmac``, ``fpmac``, ``mac``). ``!Parallel``
lists components side by side; they become consecutive levels (each keeps what the mapping
says). Attributes read: ``depth`` (words; absent for DRAM: unbounded), ``datawidth`` (word
bits), ``width`` (bits per access: block = width / datawidth words) or ``block_size``,
``read_bandwidth``, ``write_bandwidth``, ``shared_bandwidth`` (words per cycle), and the top
container's ``global_cycle_seconds`` (the clock). Other attributes are Accelergy's (technology,
banks, ...) and do not change counts.

An ERT (``timeloop-model.ERT.yaml``, Accelergy's energy reference table, as Timeloop writes it
next to its outputs) gives each component's pJ per action: ``read``, ``write`` (our ``fill``),
``update``, ``leak`` (per cycle), ``compute``. Without one, :func:`default_energy` prices each
class from :mod:`arch.energy`'s published tables.
"""

from __future__ import annotations

import re

from arch.energy import ACCELERGY_45NM, energy_pj, mac_pj
from arch.errors import SpecError
from arch.hierarchy import ComputeLevel, Hierarchy, StorageLevel
from arch.numbers import NumberError
from arch.schema import read_field, spec_name
from arch.yamlio import Tagged, load_yaml_file

COMPUTE_CLASSES = ("intmac", "fpmac", "mac", "compute")
_NODE_KEYS = {"name", "class", "attributes", "spatial", "constraints", "required_actions", "enabled",
              "subclass", "area_scale", "energy_scale", "nodes", "description"}


def default_energy(klass: str, word_bits: int, block_words: int) -> tuple:
    """(action, pJ) pairs for a component of Timeloop class ``klass`` without an ERT.

    Sources (:mod:`arch.energy`): DRAM at Horowitz's 640 pJ per 32-bit read (ISSCC 2014, 45 nm);
    register files at the 0.653 / 0.570 pJ per word read / write of the Accelergy 45 nm 10-entry
    register file (FuseMax artifact); other storage at Horowitz's 5 pJ per 32-bit read of an
    8 KB SRAM; each scaled to the word width and multiplied by the block (words per access).
    Integer MACs: Horowitz's 8-bit multiply plus 32-bit add (0.3 pJ); other MACs: the
    Accelergy 45 nm floating-point MAC (17.16 pJ).
    """
    k = klass.lower()
    if k in COMPUTE_CLASSES or k.endswith("mac"):
        pj = mac_pj("int8", "int32") if k.startswith("int") else ACCELERGY_45NM["fp_mac"].pj
        return (("compute", pj),)
    scale = word_bits / 32 * block_words
    if k == "dram":
        e = energy_pj("horowitz45", "dram_read_32bit") * scale
        return (("read", e), ("fill", e), ("update", e))
    if "regfile" in k or k.endswith("_rf"):
        rd = ACCELERGY_45NM["fusemax_rf2d_read"].pj * block_words
        wr = ACCELERGY_45NM["fusemax_rf2d_write"].pj * block_words
        return (("read", rd), ("fill", wr), ("update", wr))
    e = energy_pj("horowitz45", "sram_8kb_read_32bit") * scale
    return (("read", e), ("fill", e), ("update", e))


def _num(problems, path, value, typ=int, allow_none=True):
    """``value`` as a positive ``typ`` (strictly, :mod:`arch.numbers`), or a problem and None."""
    if value is None and allow_none:
        return None
    try:
        return read_field(value, typ, "pos", path.rsplit(".", 1)[-1])
    except NumberError as err:
        problems.append((path, str(err)))
        return None


def flatten_nodes(nodes, path, problems, out) -> None:
    """Depth-first list of the containers and components of a Timeloop v0.4 node list.

    Parameters
    ----------
    nodes : list
        An ``architecture.nodes`` list (``!Parallel`` and ``!Hierarchical`` groups are opened).
    path : str
        Key path of ``nodes`` in the file, for messages.
    problems : list
        Appended with (key path, message) for every malformed node.
    out : list
        Appended with (key path, tag, node dict) per container or component, in file order.
    """
    if not isinstance(nodes, list):
        problems.append((path, f"'nodes' must be a list, not {nodes!r}"))
        return
    for i, node in enumerate(nodes):
        p = f"{path}[{i}]"
        if not isinstance(node, dict):
            problems.append((p, f"a node must be a mapping, not {node!r}"))
            continue
        tag = node.tag if isinstance(node, Tagged) else ("Component" if "class" in node else "Container")
        if tag not in ("Container", "Component", "Parallel", "Hierarchical", "Nothing"):
            problems.append((p, f"unknown node tag !{tag} (allowed: !Container, !Component, !Parallel, !Hierarchical)"))
            continue
        for k in node:
            if k not in _NODE_KEYS:
                problems.append((f"{p}.{k}", f"unknown key (allowed: {', '.join(sorted(_NODE_KEYS))})"))
        if tag in ("Parallel", "Hierarchical"):
            flatten_nodes(node.get("nodes"), f"{p}.nodes", problems, out)
        elif tag != "Nothing":
            out.append((p, tag, node))


def _mesh(problems, path, node):
    sp = node.get("spatial")
    attrs = node.get("attributes") or {}
    if sp is None:
        sp = {k: attrs[k] for k in ("meshX", "meshY") if k in attrs and node.get("class") is None}
    if not isinstance(sp, dict) or set(sp) - {"meshX", "meshY"}:
        problems.append((f"{path}.spatial", f"'spatial' must be a mapping with meshX, meshY, not {sp!r}"))
        return 1, 1
    x = _num(problems, f"{path}.spatial.meshX", sp.get("meshX", 1)) or 1
    y = _num(problems, f"{path}.spatial.meshY", sp.get("meshY", 1)) or 1
    return x, y


def _energies(ert, name, klass, bits, block) -> tuple:
    """A component's (action, pJ) pairs: from the ERT when one is given, else the defaults."""
    if ert is None:
        return default_energy(klass, bits, block)
    return tuple(ert.get(name, ()))


def _storage(problems, path, node, fx, fy, ert):
    attrs = node.get("attributes") or {}
    if not isinstance(attrs, dict):
        problems.append((f"{path}.attributes", f"'attributes' must be a mapping, not {attrs!r}"))
        attrs = {}
    ap = f"{path}.attributes"
    bits = _num(problems, f"{ap}.datawidth", attrs.get("datawidth", attrs.get("word_bits")), allow_none=False) or 8
    block = _num(problems, f"{ap}.block_size", attrs.get("block_size"))
    if block is None:
        width = _num(problems, f"{ap}.width", attrs.get("width", bits))
        if width is not None and width % bits:
            problems.append((f"{ap}.width", f"'width' must be a multiple of datawidth {bits}, not {width!r}"))
        block = max(1, (width or bits) // bits)
    depth = attrs.get("depth")
    klass = str(node.get("class", "storage"))
    size = None if depth is None or klass.lower() == "dram" else _num(problems, f"{ap}.depth", depth)
    if size is not None:
        size *= block
    name = str(node.get("name"))
    energies = _energies(ert, name, klass, bits, block)
    return StorageLevel(
        name=name, fanout_x=fx, fanout_y=fy, size_words=size, word_bits=bits, block_words=block,
        read_bw=_num(problems, f"{ap}.read_bandwidth", attrs.get("read_bandwidth"), float),
        write_bw=_num(problems, f"{ap}.write_bandwidth", attrs.get("write_bandwidth"), float),
        shared_bw=_num(problems, f"{ap}.shared_bandwidth", attrs.get("shared_bandwidth"), float),
        energy_pj=tuple(energies),
    )


def hierarchy_from_timeloop(data: dict, source: str = "<string>", overrides: dict | None = None,
                            ert: dict | None = None, ert_source: str = "<ERT>") -> Hierarchy:
    """Build a :class:`Hierarchy` from a parsed Timeloop v0.4 architecture document.

    ``ert``: component name -> ((action, pJ), ...) from :func:`read_ert` (read from
    ``ert_source``); None prices every component with :func:`default_energy`. Every problem is one :class:`SpecError` naming
    ``source`` and the key path (``architecture.nodes[3].attributes.depth``).
    """
    problems = [(k, "overrides are not supported for Timeloop architecture files") for k in (overrides or {})]
    arch = data.get("architecture")
    if not isinstance(arch, dict):
        raise SpecError([("architecture", f"must be a mapping with version and nodes, not {arch!r}")], source)
    if str(arch.get("version")) != "0.4":
        problems.append(("architecture.version", f"'version' must be 0.4, not {arch.get('version')!r}"))
    flat = []
    flatten_nodes(arch.get("nodes"), "architecture.nodes", problems, flat)
    levels, compute, clock = [], None, 1000.0
    fx, fy = 1, 1
    aliases = []
    for path, tag, node in flat:
        name = node.get("name")
        if not isinstance(name, str) or not name:
            problems.append((f"{path}.name", f"'name' must be a non-empty string, not {name!r}"))
            continue
        if compute is not None:
            problems.append((path, f"{name!r} comes after the compute component {compute.name!r}, which must be last"))
            continue
        mx, my = _mesh(problems, path, node)
        fx, fy = fx * mx, fy * my
        attrs = node.get("attributes") or {}
        gcs = attrs.get("global_cycle_seconds") if isinstance(attrs, dict) else None
        if gcs is not None:
            sec = _num(problems, f"{path}.attributes.global_cycle_seconds", gcs, float)
            clock = float(f"{1e-6 / sec:.12g}") if sec else clock
        if tag == "Container":
            if levels and (mx, my) != (1, 1):
                aliases.append((name, len(levels) - 1))
            continue
        klass = str(node.get("class", ""))
        if klass.lower() in COMPUTE_CLASSES or klass.lower().endswith("mac"):
            compute = ComputeLevel(name, fx, fy, _energies(ert, name, klass, 8, 1))
        else:
            levels.append(_storage(problems, path, node, fx, fy, ert))
        fx, fy = 1, 1
    if compute is None:
        problems.append(("architecture.nodes", f"no compute component (classes: {', '.join(COMPUTE_CLASSES)})"))
    if not levels:
        problems.append(("architecture.nodes", "no storage component"))
    elif (levels[0].fanout_x, levels[0].fanout_y) != (1, 1):
        problems.append(("architecture.nodes", f"the outermost storage {levels[0].name!r} must have one instance"))
    if problems:
        raise SpecError(problems, source)
    if ert is not None:
        missing = [n.name for n in (*levels, compute) if n.name not in ert]
        if missing:
            raise SpecError([("ERT.tables", f"no table for component {missing[0]!r} of {source}")], ert_source)
    return Hierarchy(spec_name(source).removesuffix(".arch"), tuple(levels), compute, clock_mhz=clock,
                     source=source, fanout_names=tuple(aliases))


_ACTION = {"read": "read", "write": "fill", "update": "update", "leak": "leak", "compute": "compute"}


def read_ert(path) -> dict:
    """Component name -> ((action, pJ), ...) from an Accelergy ERT file.

    Table names such as ``System_top_level.GlobalBuffer[1..16]`` become ``GlobalBuffer``;
    ``write`` becomes our ``fill``; the first entry of an action counts. Problems raise one
    :class:`SpecError` naming the file and key path.
    """
    data = load_yaml_file(path)
    src = str(path)
    ert = data.get("ERT") if isinstance(data, dict) else None
    if not isinstance(ert, dict) or not isinstance(ert.get("tables"), list):
        raise SpecError([("ERT.tables", "missing (an Accelergy ERT has ERT: {version, tables: [...]})")], src)
    out, problems = {}, []
    for i, table in enumerate(ert["tables"]):
        p = f"ERT.tables[{i}]"
        if not isinstance(table, dict) or not isinstance(table.get("name"), str):
            problems.append((p, f"a table must be a mapping with a name, not {table!r}"))
            continue
        name = re.sub(r"\[[^\]]*\]$", "", table["name"]).rsplit(".", 1)[-1]
        pairs = {}
        for j, act in enumerate(table.get("actions") or []):
            ap = f"{p}.actions[{j}]"
            if not isinstance(act, dict) or "name" not in act:
                problems.append((ap, f"an action must be a mapping with name and energy, not {act!r}"))
                continue
            try:
                e = read_field(act.get("energy"), float, "nonneg", "energy")
            except NumberError as err:
                problems.append((f"{ap}.energy", str(err)))
                continue
            key = _ACTION.get(str(act["name"]))
            if key is not None and key not in pairs:
                pairs[key] = e
        out[name] = tuple(pairs.items())
    if problems:
        raise SpecError(problems, src)
    return out


def load_timeloop_arch(path, ert_path=None) -> Hierarchy:
    """Read a Timeloop architecture file (and optionally its ERT) into a :class:`Hierarchy`."""
    data = load_yaml_file(path)
    if not isinstance(data, dict):
        raise SpecError([("", "a Timeloop architecture must be a YAML mapping")], str(path))
    ert = read_ert(ert_path) if ert_path is not None else None
    return hierarchy_from_timeloop(data, str(path), ert=ert, ert_source=str(ert_path))
