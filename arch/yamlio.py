"""YAML loading that rejects duplicate keys and reports where a document is malformed.

PyYAML's safe loader silently keeps the last of two equal keys; a spec with ``ports:`` twice
would then describe a different machine than its author wrote. :func:`load_yaml` refuses it,
and every other way a document can be unusable: a key that is itself a list or mapping, text
that is not UTF-8, nesting deeper than :data:`MAX_DEPTH`, a file larger than :data:`MAX_BYTES`
(checked before it is read).
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from arch.errors import SpecError

#: Largest spec file read (bytes); the presets are a few KiB.
MAX_BYTES = 1 << 20
#: Deepest nesting of lists and mappings accepted (a spec needs four levels).
MAX_DEPTH = 64


class _StrictLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """Safe loader (libyaml's parser when PyYAML was built with it) that refuses duplicate
    mapping keys."""


def _construct_mapping(loader, node, deep=False):
    loader.flatten_mapping(node)
    seen = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if not isinstance(key, (str, int, float, bool, type(None))):
            line = key_node.start_mark.line + 1
            raise SpecError([("", f"line {line}: a key must be a plain scalar, not a {type(key).__name__}")])
        if key in seen:
            line = key_node.start_mark.line + 1
            raise SpecError([(str(key), f"duplicate key (line {line}; first at line {seen[key]})")])
        seen[key] = key_node.start_mark.line + 1
    return yaml.constructor.SafeConstructor.construct_mapping(loader, node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


class Tagged(dict):
    """A mapping written with a local tag (Timeloop's ``!Container``, ``!Component``,
    ``!Parallel``); ``tag`` is the tag without its ``!``."""

    tag: str = ""


def _construct_tagged(loader, suffix, node):
    out = Tagged()
    out.tag = suffix
    if isinstance(node, yaml.MappingNode):
        out.update(_construct_mapping(loader, node, deep=True))
    elif isinstance(node, yaml.SequenceNode):
        out["nodes"] = loader.construct_sequence(node, deep=True)
    else:
        line = node.start_mark.line + 1
        raise SpecError([("", f"line {line}: tag !{suffix} on a plain value is not supported")])
    return out


_StrictLoader.add_multi_constructor("!", _construct_tagged)


def _depth(text: str) -> int:
    """Deepest bracket or indentation nesting, bounded above by counting (no parse)."""
    depth = deepest = 0
    for ch in text:
        if ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth = max(depth - 1, 0)
    indent = max((len(line) - len(line.lstrip(" -")) for line in text.splitlines()), default=0)
    return max(deepest, indent // 2)


def load_yaml(text: str, source: str = "<string>"):
    """Parse YAML text; raise :class:`SpecError` naming ``source`` on any problem."""
    if _depth(text) > MAX_DEPTH:
        raise SpecError([("", f"nesting must be at most {MAX_DEPTH} levels deep")], source)
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except SpecError as err:
        raise SpecError(err.problems, source) from None
    except RecursionError:
        raise SpecError([("", f"nesting must be at most {MAX_DEPTH} levels deep")], source) from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = " ".join(str(getattr(err, "problem", None) or err).split())
        raise SpecError([("", f"{where}malformed YAML ({problem})")], source) from None


def load_yaml_file(path) -> object:
    """Read and parse a YAML file; a missing file is a :class:`SpecError` too."""
    p = Path(path)
    try:
        size = os.stat(p).st_size
        if size > MAX_BYTES:
            raise SpecError([("", f"a spec file must be at most {MAX_BYTES} bytes, not {size}")], str(p))
        raw = p.read_bytes()
    except OSError as err:
        raise SpecError([("", f"cannot read file ({err.strerror or err})")], str(p)) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise SpecError([("", f"not UTF-8 text (byte {err.start})")], str(p)) from None
    return load_yaml(text, str(p))
