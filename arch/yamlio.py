"""YAML loading that rejects duplicate keys and reports where a document is malformed.

PyYAML's safe loader silently keeps the last of two equal keys; a spec with ``ports:`` twice
would then describe a different machine than its author wrote. :func:`load_yaml` refuses it.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from arch.errors import SpecError


class _StrictLoader(yaml.SafeLoader):
    """Safe loader that refuses duplicate mapping keys."""


def _construct_mapping(loader, node, deep=False):
    loader.flatten_mapping(node)
    seen = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            line = key_node.start_mark.line + 1
            raise SpecError([(str(key), f"duplicate key (line {line}; first at line {seen[key]})")])
        seen[key] = key_node.start_mark.line + 1
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


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


def load_yaml(text: str, source: str = "<string>"):
    """Parse YAML text; raise :class:`SpecError` naming ``source`` on any problem."""
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except SpecError as err:
        raise SpecError(err.problems, source) from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(err, "problem", None) or str(err)
        raise SpecError([("", f"{where}malformed YAML ({problem})")], source) from None


def load_yaml_file(path) -> object:
    """Read and parse a YAML file; a missing file is a :class:`SpecError` too."""
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as err:
        raise SpecError([("", f"cannot read file ({err.strerror})")], str(p)) from None
    return load_yaml(text, str(p))
