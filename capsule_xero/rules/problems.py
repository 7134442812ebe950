"""Each problem in a rules file as one plain-words line: the line a YAML or pydantic error points at, and what it says."""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Iterator
from typing import Annotated, Any

import yaml
from pydantic import ValidationError

from capsule_xero.rules.echo import cut, show
from capsule_xero.rules.limits import CONTACT_NUMBER_LIMIT, MAX_CONTACT_GROUPS, MAX_CONTACT_NUMBER_PREFIX
from capsule_xero.rules.model import Rules
from capsule_xero.rules.section import Section


def yaml_problem(source: str, error: yaml.YAMLError) -> str:
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    problem = getattr(error, "problem", None) or str(error)
    context = getattr(error, "context", None)
    where = f"line {mark.line + 1} column {mark.column + 1}" if mark else "somewhere"
    text = f"{problem} ({context})" if context else problem
    return f"{source} {where}: not valid YAML: {cut(text, 100)}"


def duplicate_keys(node: yaml.Node) -> Iterator[tuple[int, str]]:
    """YAML keeps the last of two equal keys silently; the rules file says so instead."""
    for path, child in _walk(node, ()):
        if not isinstance(child, yaml.MappingNode):
            continue
        first: dict[Any, int] = {}
        for key, _ in child.value:
            if not isinstance(key, yaml.ScalarNode):
                continue
            line = key.start_mark.line + 1
            if key.value in first:
                where = _path_text((*path, key.value))
                yield line, f"{where}: appears twice (first on line {first[key.value]}); keep one"
            else:
                first[key.value] = line


def _walk(node: yaml.Node, path: tuple[Any, ...]) -> Iterator[tuple[tuple[Any, ...], yaml.Node]]:
    yield path, node
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            yield from _walk(value, (*path, key.value if isinstance(key, yaml.ScalarNode) else "?"))
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield from _walk(item, (*path, index))


def _node_at(root: yaml.Node, loc: tuple[Any, ...], key_node: bool = False) -> yaml.Node:
    """The deepest YAML node on ``loc``; with ``key_node`` the key of the last step (an unknown key)."""
    node = root
    for index, step in enumerate(loc):
        if isinstance(node, yaml.MappingNode):
            pair = next(
                (
                    (k, v)
                    for k, v in node.value
                    if isinstance(k, yaml.ScalarNode) and _same_key(k.value, step)
                ),
                None,
            )
            if pair is None:
                return node
            node = pair[0] if key_node and index == len(loc) - 1 else pair[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(step, int) and step < len(node.value):
            node = node.value[step]
        else:
            return node
    return node


def _same_key(yaml_key: str, step: Any) -> bool:
    if yaml_key == str(step):
        return True
    if isinstance(step, str):
        return False
    try:  # `yes:` is the key True to YAML
        return bool(yaml.safe_load(yaml_key) == step)
    except yaml.YAMLError:
        return False


def _data_loc(loc: tuple[Any, ...], data: Any) -> tuple[tuple[Any, ...], bool]:
    """``loc`` without pydantic's union-branch steps (``literal['all']``), and whether it had one."""
    kept: list[Any] = []
    branch = False
    for step in loc:
        if isinstance(data, dict):
            kept.append(step)
            data = data.get(step)
        elif isinstance(data, list) and isinstance(step, int):
            kept.append(step)
            data = data[step] if step < len(data) else None
        elif isinstance(step, str):
            branch = True
        else:
            kept.append(step)
            data = None
    return tuple(kept), branch


def _path_text(loc: tuple[Any, ...]) -> str:
    text = ""
    for step in loc:
        name = cut(str(step))
        text += f"[{step}]" if isinstance(step, int) else (f".{name}" if text else name)
    return text or "(top)"


_KIND_NAMES = {
    "string_type": "text",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "list_type": "a list",
    "dict_type": "a section of key: value lines",
    "model_type": "a section of key: value lines",
    "model_attributes_type": "a section of key: value lines",
}


def _section_at(loc: tuple[Any, ...]) -> type[Section] | None:
    """The section model a location points into (for the keys it accepts)."""
    model: type[Section] | None = Rules
    for step in loc:
        if isinstance(step, int):
            continue
        if model is None:
            return None
        info = next((i for n, i in model.model_fields.items() if (i.alias or n) == step), None)
        if info is None:
            return None
        model = _model_in(info.annotation)
    return model


def _model_in(annotation: Any) -> type[Section] | None:
    if isinstance(annotation, type) and issubclass(annotation, Section):
        return annotation
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return _model_in(typing.get_args(annotation)[0])
    if origin in {list, typing.Union, types.UnionType}:
        for arg in typing.get_args(annotation):
            found = _model_in(arg)
            if found:
                return found
    return None


def _value_at(data: Any, loc: tuple[Any, ...]) -> Any:
    for step in loc:
        if (isinstance(data, dict) and step in data) or (
            isinstance(data, list) and isinstance(step, int) and step < len(data)
        ):
            data = data[step]
        else:
            return None
    return data


def pydantic_problems(error: ValidationError, root: yaml.Node, data: Any) -> Iterator[tuple[int, str]]:
    seen: set[tuple[tuple[Any, ...], str]] = set()
    for item in error.errors(include_url=False):
        loc, branch = _data_loc(tuple(item["loc"]), data)
        kind = item["type"]
        if branch and kind == "literal_error" and not isinstance(item.get("input"), str):
            continue  # the other branch of the union (e.g. a list of tags rather than "all") explains it
        if kind == "extra_forbidden":
            parent = loc[:-1]
            section = _section_at(parent)
            word = section._unknown_word if section else "key"
            expected = section.expected_keys(_value_at(data, parent)) if section else []
            message = f"unknown {word} {show(str(loc[-1]))}" + (
                f" (expected one of {', '.join(expected)})" if expected else ""
            )
            where, line_node = parent, _node_at(root, loc, key_node=True)
        elif kind == "too_long" and isinstance(item.get("input"), list):
            # Point at the first entry past the limit: the line where the list became too long.
            limit = (item.get("ctx") or {}).get("max_length", 0)
            where, line_node = loc, _node_at(root, (*loc, limit))
            entries, why = _LIST_LIMITS.get(str(loc[-1]) if loc else "", ("entries", ""))
            message = f"has {len(item['input']):,} {entries}; at most {limit:,}{why}"
        else:
            where, line_node = loc, _node_at(root, loc)
            message = _SPECIAL.get((loc, kind)) or _message(item)
            if kind in {"model_type", "model_attributes_type", "dict_type"}:
                section = _section_at(loc)
                message = (
                    f"should be {section._example if section else 'a section'}, not {show(item.get('input'))}"
                )
        if (where, message) in seen:
            continue
        seen.add((where, message))
        yield line_node.start_mark.line + 1, (f"{_path_text(where)}: {message}" if where else message)


# The lists with a length limit: what their entries are called, and why the limit.
_LIST_LIMITS = {
    "transforms": (
        "transforms",
        " (each is one step of a single SQL query, and the query can nest only so many)",
    ),
    "only_if": ("conditions", ""),
    "skip_if": ("conditions", ""),
    "tags": ("tags", f" (Xero keeps at most {MAX_CONTACT_GROUPS} contact groups per organisation)"),
}

_SPECIAL = {
    (("version",), "literal_error"): "this tool reads rules files of version 1",
    (("ownership", "contact_number"), "literal_error"): (
        "cannot be owned by Xero: the ContactNumber is how this tool finds the contacts it made"
    ),
    **{
        (("xero", "contact_number_prefix"), kind): (
            f"is longer than {MAX_CONTACT_NUMBER_PREFIX} characters, so prefix + Capsule id could pass"
            f" Xero's {CONTACT_NUMBER_LIMIT}-character limit on ContactNumber"
        )
        for kind in ("string_too_long", "too_long")
    },
}


def _message(item: Any) -> str:
    kind, value, ctx = item["type"], item.get("input"), item.get("ctx") or {}
    if kind == "literal_error":
        expected = re.sub(r"'([^']*)'", r"\1", ctx.get("expected", "")).replace(" or ", ", ")
        return f"{show(value)} is not one of {expected}"
    if kind == "missing":
        return "is missing"
    if kind in _KIND_NAMES:
        return f"should be {_KIND_NAMES[kind]}, not {show(value)}"
    if kind == "value_error":
        return str(ctx.get("error", item["msg"]))
    if kind in {"string_too_long", "too_long"}:
        return f"{show(value)} is longer than {ctx['max_length']} characters"
    if kind in {"too_short", "string_too_short"}:
        return "must not be empty"
    message = item["msg"].replace("Input should", "should")
    return f"{message} (not {show(value)})" if value is not None and not isinstance(value, dict) else message
