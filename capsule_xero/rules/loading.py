"""Reading the rules file: where it is, ``load_rules`` / ``parse_rules``, and ``RulesError`` for its problems.

Each problem is one line with the file, the line and the problem: ``capsule-xero.yaml line 14: sync: ...``.
"""

from __future__ import annotations

import typing
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from capsule_xero.rules.billing import AS_WRITTEN_KEYS
from capsule_xero.rules.echo import cut
from capsule_xero.rules.limits import MAX_DEPTH, MAX_FILE_CHARACTERS, MAX_TEXT, MAX_VALUES
from capsule_xero.rules.model import Rules
from capsule_xero.rules.problems import duplicate_keys, pydantic_problems, yaml_problem

if typing.TYPE_CHECKING:
    from capsule_xero.settings import Settings

DEFAULT_FILE_NAME = "capsule-xero.yaml"


class RulesError(ValueError):
    """The rules file has problems; ``problems`` holds one plain-words line per problem, by line."""

    SHOWN = 20  # a message (a Dagster run's error, a log line) lists the first ones and counts the rest

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        shown = problems[: self.SHOWN]
        if len(problems) > self.SHOWN:
            shown = [*shown, f"… and {len(problems) - self.SHOWN:,} more problems"]
        super().__init__("\n".join(shown))


def find_rules_path(settings: Settings) -> Path | None:
    """``CAPSULE_XERO_CONFIG`` when set, else ``./capsule-xero.yaml`` when present, else None.

    ``Settings.from_env`` already resolves exactly that into ``settings.config_file``.
    """
    return settings.config_file


def load_rules(path: Path | None) -> Rules:
    """The rules in ``path``; defaults when ``path`` is None or is the default file and absent.

    A file named explicitly (``CAPSULE_XERO_CONFIG``) that does not exist is an error, not defaults.
    """
    if path is None:
        return Rules()
    path = Path(path)
    if not path.is_file():
        if path.name == DEFAULT_FILE_NAME and path.parent == Path() and not path.exists():
            return Rules()
        raise RulesError([f"{path}: no such rules file (set CAPSULE_XERO_CONFIG to the rules file's path)"])
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise RulesError([f"{path}: cannot be read ({error})"]) from error
    return parse_rules(text, str(path))


def parse_rules(text: str, source: str = DEFAULT_FILE_NAME) -> Rules:
    """The rules in ``text``; ``source`` names the file in error messages."""
    try:
        shape = _shape_problem(text)
        if shape is not None:
            raise RulesError([f"{source} line {shape[0]}: {shape[1]}"])
        loader = yaml.SafeLoader(text)
        try:
            root = loader.get_single_node()
            data = None if root is None else loader.construct_document(root)
        finally:
            loader.dispose()
    except yaml.YAMLError as error:
        raise RulesError([yaml_problem(source, error)]) from error
    if root is None or data is None:
        return Rules()
    if not isinstance(data, dict):
        raise RulesError(
            [
                f"{source} line {root.start_mark.line + 1}: the file should be sections such as sync:, groups:, conflicts:"
            ]
        )
    _as_written(root, data)
    problems: list[tuple[int, str]] = list(duplicate_keys(root))
    try:
        rules = Rules.model_validate(data)
    except ValidationError as error:
        problems.extend(pydantic_problems(error, root, data))
        rules = None
    if problems:
        problems.sort(key=lambda p: p[0])
        raise RulesError([f"{source} line {line}: {message}" for line, message in problems])
    assert rules is not None
    return rules


_NUMBER_TAGS = frozenset({"tag:yaml.org,2002:int", "tag:yaml.org,2002:float"})


def _as_written(root: yaml.Node, data: dict[str, Any]) -> None:
    """Codes and amounts take the text written in the file, not what YAML made of it.

    YAML reads an unquoted ``1000.10`` as a float (the amount would pass through binary floating
    point) and ``0200`` as the octal number 128 (an account code would change); these keys are
    never numbers to this tool.
    """
    if not isinstance(root, yaml.MappingNode):
        return
    for section, key in AS_WRITTEN_KEYS:
        values = data.get(section)
        section_node = _child(root, section)
        node = _child(section_node, key) if section_node is not None else None
        if isinstance(values, dict) and isinstance(node, yaml.ScalarNode) and node.tag in _NUMBER_TAGS:
            values[key] = node.value


def _child(node: yaml.Node, key: str) -> yaml.Node | None:
    if not isinstance(node, yaml.MappingNode):
        return None
    found = None
    for key_node, value_node in node.value:  # the last of equal keys, as YAML keeps it
        if isinstance(key_node, yaml.ScalarNode) and key_node.value == key:
            found = value_node
    return found


# --- what no rules file needs -----------------------------------------------------------------------


def _shape_problem(text: str) -> tuple[int, str] | None:
    """The line and the problem when ``text`` is larger, deeper or expands further than any rules need.

    Read as a stream of YAML events before anything is built: an alias (``*name``) stands for its
    whole anchor, so nine levels of ten aliases each are a billion values, which a walk over the
    document (or pydantic) would take hours to visit. Counting an anchor's size once and adding it
    at each alias finds that in one pass over the text.
    """
    if len(text) > MAX_FILE_CHARACTERS:
        line = text.count("\n", 0, MAX_FILE_CHARACTERS) + 1
        return line, (
            f"the file passes {MAX_FILE_CHARACTERS:,} characters here ({len(text):,} in all); a rules file"
            " needs a few thousand (the example with every option is under 15,000)"
        )
    anchor_sizes: dict[str, int] = {}
    open_collections: list[list[Any]] = []  # [values so far, anchor] per collection not yet closed
    total = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        line = event.start_mark.line + 1
        if isinstance(event, yaml.CollectionStartEvent):
            open_collections.append([1, event.anchor])
            if len(open_collections) > MAX_DEPTH:
                return line, f"nested more than {MAX_DEPTH} levels deep; no rule needs more than 6"
            total += 1
            continue
        if isinstance(event, yaml.CollectionEndEvent):
            size, anchor = open_collections.pop()
            if anchor is not None:
                anchor_sizes[anchor] = size
            if open_collections:
                open_collections[-1][0] += size
            continue
        if isinstance(event, yaml.ScalarEvent):
            if len(event.value) > MAX_TEXT:
                return line, (
                    f"a value of {len(event.value):,} characters; a value in a rules file holds at most {MAX_TEXT:,}"
                )
            size = 1
            if event.anchor is not None:
                anchor_sizes[event.anchor] = size
        elif isinstance(event, yaml.AliasEvent):
            if event.anchor not in anchor_sizes:
                name = cut(event.anchor)
                if any(anchor == event.anchor for _, anchor in open_collections):
                    return (
                        line,
                        f"the alias *{name} is used inside its own anchor &{name} (a loop with no end)",
                    )
                continue  # an alias to nothing: the composer reports it with its line
            size = anchor_sizes[event.anchor]
        else:
            continue
        total += size
        if open_collections:
            open_collections[-1][0] += size
        if total > MAX_VALUES:
            return line, (
                f"more than {MAX_VALUES:,} values once the aliases (*name) are expanded; a rules file needs"
                " far fewer: write the values out instead of nesting anchors"
            )
    return None
