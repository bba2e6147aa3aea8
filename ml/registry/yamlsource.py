"""Parse a manifest's YAML and remember the line every key and list item sits on."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

Loc = tuple[str | int, ...]


class YamlProblem(Exception):
    """The text is not a YAML document a manifest can be read from."""

    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


@dataclass(frozen=True, slots=True)
class YamlDocument:
    data: Any
    lines: Mapping[Loc, int]
    """1-based line of each mapping key and each sequence item, by its path from the root."""
    text_starts: Mapping[Loc, int]
    """1-based file line of the first line of each string whose lines match the file's."""

    def line_of(self, loc: Sequence[str | int]) -> int | None:
        """Return the line of ``loc``, or of its nearest ancestor present in the file."""
        path = tuple(loc)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return None


class _NoAliasLoader(yaml.SafeLoader):
    # An alias lets a small file expand into a huge structure ("billion laughs") and
    # makes one node sit on two lines; manifests have no use for it.
    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            alias: yaml.events.Event = self.peek_event()  # type: ignore[no-untyped-call]  # untyped stub
            mark = alias.start_mark
            line = mark.line + 1 if mark else None
            raise YamlProblem("anchors and aliases are not supported", line)
        return super().compose_node(parent, index)


def parse_yaml(text: str) -> YamlDocument:
    """Parse one YAML document with the safe loader; raise YamlProblem with the line on error."""
    loader = _NoAliasLoader(text)
    try:
        node = loader.get_single_node()
        index = _Index()
        if node is None:
            return YamlDocument(data=None, lines={}, text_starts={})
        index.visit(node, ())
        data = loader.construct_document(node)
        return YamlDocument(data=data, lines=index.lines, text_starts=index.text_starts)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        detail = " ".join(part for part in (exc.context, exc.problem) if part)
        raise YamlProblem(f"invalid YAML: {detail}", mark.line + 1 if mark else None) from None
    except yaml.YAMLError as exc:
        raise YamlProblem(f"invalid YAML: {exc}", None) from None
    except RecursionError:
        raise YamlProblem("invalid YAML: nested too deeply", None) from None
    finally:
        loader.dispose()


@dataclass
class _Index:
    lines: dict[Loc, int] = field(default_factory=dict)
    text_starts: dict[Loc, int] = field(default_factory=dict)

    def visit(self, node: yaml.Node, path: Loc) -> None:
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                self._key(key_node, value_node, path)
        elif isinstance(node, yaml.SequenceNode):
            for position, item in enumerate(node.value):
                self.lines[(*path, position)] = item.start_mark.line + 1
                self.visit(item, (*path, position))
        elif isinstance(node, yaml.ScalarNode):
            # Only a literal block (|) or a one-line scalar keeps its lines where they are
            # in the file; folded and multi-line quoted scalars join lines.
            if node.style == "|":
                self.text_starts[path] = node.start_mark.line + 2
            elif node.start_mark.line == node.end_mark.line:
                self.text_starts[path] = node.start_mark.line + 1

    def _key(self, key_node: yaml.Node, value_node: yaml.Node, path: Loc) -> None:
        key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node.value)
        child = (*path, key)
        line = key_node.start_mark.line + 1
        if child in self.lines:
            first = self.lines[child]
            # PyYAML silently keeps the last value; an author would not notice the first.
            raise YamlProblem(f'key "{key}" appears twice (first on line {first})', line)
        self.lines[child] = line
        self.visit(value_node, child)


def node_line(node: yaml.Node | None, loc: Sequence[str | int]) -> int:
    """The 1-based line of the deepest node of a composed YAML tree that ``loc`` reaches."""
    if node is None:
        return 1
    line = node.start_mark.line + 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            pair = next(((k, v) for k, v in node.value if k.value == part), None)
            if pair is None:
                break
            key, node = pair
            line = key.start_mark.line + 1  # the key's line, also for a nested mapping
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if not 0 <= part < len(node.value):
                break
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line
