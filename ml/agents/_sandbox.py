"""A Jinja environment for templates written by third parties.

On top of Jinja's immutable sandbox (no private attributes, no mutation of builtins) it
allows only listed filters, globals and methods of ``str``/``list``/``tuple``/``dict``;
bounds the size of every value a template builds; and gives each render a
budget of loop iterations and calls, and of characters written, so a hostile template
fails fast instead of exhausting memory or a worker.
"""

from __future__ import annotations

import json
import re
import types
from collections.abc import Callable, ItemsView, Iterable, Iterator, KeysView, Mapping, ValuesView
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import wraps
from typing import Any

from jinja2 import (
    Environment,
    StrictUndefined,
    Template,
    nodes,
    pass_context,
    pass_environment,
    pass_eval_context,
)
from jinja2.exceptions import SecurityError, TemplateSyntaxError
from jinja2.filters import make_attrgetter, sync_do_join
from jinja2.nodes import EvalContext
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import Namespace
from jinja2.visitor import NodeTransformer

MAX_SOURCE_CHARS = 20_000
# The size of a value is about how many characters it prints as (see _size).
MAX_VALUE_SIZE = 2_000_000
MAX_INT_BITS = 4_096
MAX_RANGE = 1_000
MAX_STEPS = 20_000
MAX_WRITTEN_CHARS = 50_000
# A printf width beyond this is padding, not formatting.
_MAX_FORMAT_WIDTH = 100

_METHODS: dict[type, frozenset[str]] = {
    str: frozenset(
        {
            "capitalize",
            "casefold",
            "count",
            "endswith",
            "find",
            "isalnum",
            "isalpha",
            "isdigit",
            "islower",
            "isspace",
            "istitle",
            "isupper",
            "join",
            "lower",
            "lstrip",
            "partition",
            "removeprefix",
            "removesuffix",
            "replace",
            "rfind",
            "rpartition",
            "rsplit",
            "rstrip",
            "split",
            "splitlines",
            "startswith",
            "strip",
            "title",
            "upper",
        }
    ),
    list: frozenset({"count", "index"}),
    tuple: frozenset({"count", "index"}),
    dict: frozenset({"get", "items", "keys", "values"}),
}
# Each of these yields at most about as much as it is given; padding and layout filters
# (center, indent, wordwrap, format, batch, slice...) can be told to produce any size, and
# so can Jinja's tojson (indent), replaced below like join, replace and sum.
_FILTERS = frozenset(
    {
        "abs",
        "attr",
        "capitalize",
        "count",
        "d",
        "default",
        "dictsort",
        "first",
        "float",
        "groupby",
        "int",
        "items",
        "last",
        "length",
        "list",
        "lower",
        "map",
        "max",
        "min",
        "reject",
        "rejectattr",
        "replace",
        "reverse",
        "round",
        "select",
        "selectattr",
        "sort",
        "string",
        "striptags",
        "title",
        "trim",
        "truncate",
        "unique",
        "upper",
        "wordcount",
    }
)
_PRINTF_FIELD = re.compile(r"%(?:\([^)]*\))?[#0 +\-]*(\*|\d+)?(?:\.(\*|\d+))?")

COUNT_FILTER = "_nudge_counted"
WRITE_FILTER = "_nudge_written"
CONCAT_FILTER = "_nudge_concat"


@dataclass(slots=True)
class _Budget:
    steps: int = 0
    written: int = 0
    sizes: dict[int, tuple[object, int]] = field(default_factory=dict)


_BUDGET: ContextVar[_Budget | None] = ContextVar("template_budget", default=None)


def render(template: Template, context: dict[str, Any]) -> str:
    """Render with a fresh budget; SecurityError when a limit is hit."""
    token = _BUDGET.set(_Budget())
    try:
        return template.render(context)
    finally:
        _BUDGET.reset(token)


def compile_template(env: SandboxEnvironment, source: str) -> Template:
    """Parse, instrument and compile `source`; Jinja's TemplateSyntaxError on bad syntax."""
    if len(source) > MAX_SOURCE_CHARS:
        raise SecurityError(f"template is longer than {MAX_SOURCE_CHARS} characters")
    parsed = env.parse(source)
    _refuse_escapes(parsed)
    tree = _Instrument().visit(parsed)
    assert isinstance(tree, nodes.Template)
    tree.set_environment(env)
    return env.from_string(tree)


_NO_LOADING = (nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends)


def _refuse_escapes(tree: nodes.Template) -> None:
    """Reject at load what the sandbox would only refuse at render time.

    Private or dunder attribute names (``x.__class__``, ``x['_y']``, ``x | attr('__y')``),
    ``self`` (the template's own reference) and include/import/extends (there is no
    loader: templates are single manifests) never belong in a manifest's template, so the
    author hears about them from ``nudge agents validate`` rather than from failed sweeps.
    """
    for node in tree.find_all(nodes.Node):
        name: object = None
        if isinstance(node, nodes.Getattr):
            name = node.attr
        elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
            name = node.arg.value
        elif isinstance(node, nodes.Filter) and node.name == "attr" and node.args:
            first = node.args[0]
            name = first.value if isinstance(first, nodes.Const) else None
        if isinstance(name, str) and name.startswith("_"):
            raise TemplateSyntaxError(
                f"attribute {name!r} is not allowed: names starting with '_' reach Python "
                "internals",
                node.lineno,
            )
        if isinstance(node, _NO_LOADING):
            raise TemplateSyntaxError(
                "include, import and extends are not available: a template is self-contained",
                node.lineno,
            )
        if isinstance(node, nodes.Name) and node.ctx == "load" and node.name == "self":
            raise TemplateSyntaxError("'self' is not available in templates", node.lineno)


class SandboxEnvironment(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"+", "*", "**", "%"})

    def __init__(self) -> None:
        super().__init__(
            autoescape=False, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True
        )
        self.filters = {name: _bounded(self.filters[name]) for name in _FILTERS}
        self.filters["join"] = _bounded(_join)
        self.filters["replace"] = _bounded(_replace)
        self.filters["sum"] = _bounded(_sum)
        self.filters["tojson"] = _bounded(_tojson)
        self.filters[COUNT_FILTER] = _counted
        self.filters[WRITE_FILTER] = _written
        self.filters[CONCAT_FILTER] = _concat
        cycler, joiner, namespace = (
            self.globals["cycler"],
            self.globals["joiner"],
            self.globals["namespace"],
        )
        self.globals = {
            "range": _range,
            "dict": dict,
            "cycler": cycler,
            "joiner": joiner,
            "namespace": namespace,
        }

    def add_helper(self, name: str, helper: Callable[..., Any]) -> None:
        """Offer `helper` both as a global function and as a filter."""
        self.globals[name] = helper
        self.filters[name] = _bounded(helper)

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if not super().is_safe_attribute(obj, attr, value):
            return False
        for kind, allowed in _METHODS.items():
            # isinstance, not type(): subclasses such as Markup add padding methods of their own.
            if isinstance(obj, kind):
                return attr in allowed or not callable(value)
        # Methods written in C on other types (int.to_bytes...) can allocate without bound.
        return not isinstance(value, types.BuiltinMethodType)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        # str.format is not an allowed method, so there is nothing to wrap.
        return None

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        _check_binop(operator, left, right)
        return _checked(super().call_binop(context, operator, left, right))

    def call(
        __self,  # Jinja's signature: the odd names keep callers' keyword arguments free
        __context: Context,
        __obj: Any,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        _charge(steps=1)
        _check_arguments(args, kwargs)
        if isinstance(getattr(__obj, "__self__", None), str):
            name = getattr(__obj, "__name__", "")
            if name == "replace" and len(args) >= 2:
                _check_replace(__obj.__self__, args[0], args[1])
            elif name == "join" and args:
                args = (_joinable(args[0], __obj.__self__), *args[1:])
        return _checked(super().call(__context, __obj, *args, **kwargs))


class _Instrument(NodeTransformer):
    """Route loops, output and string concatenation through the budget and size checks."""

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        assert isinstance(node.iter, nodes.Expr)
        node.iter = _filter(node.iter, COUNT_FILTER)
        return node

    def visit_Output(self, node: nodes.Output) -> nodes.Node:
        self.generic_visit(node)
        node.nodes = [
            _filter(
                nodes.Const(c.data, lineno=c.lineno) if isinstance(c, nodes.TemplateData) else c,
                WRITE_FILTER,
            )
            for c in node.nodes
        ]
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return _filter(nodes.List(node.nodes, lineno=node.lineno), CONCAT_FILTER)


def _filter(node: nodes.Expr, name: str) -> nodes.Filter:
    return nodes.Filter(node, name, [], [], None, None, lineno=node.lineno)


def _current_budget() -> _Budget:
    budget = _BUDGET.get()
    if budget is None:
        raise SecurityError("templates are rendered only through the sandbox's render()")
    return budget


def _charge(*, steps: int = 0, written: int = 0) -> None:
    budget = _current_budget()
    budget.steps += steps
    budget.written += written
    if budget.steps > MAX_STEPS:
        raise SecurityError(f"template ran more than {MAX_STEPS} loop iterations and calls")
    if budget.written > MAX_WRITTEN_CHARS:
        raise SecurityError(f"template wrote more than {MAX_WRITTEN_CHARS} characters")


# pass_context keeps Jinja from folding these at compile time, where no budget applies.
@pass_context
def _counted(context: Context, iterable: Iterable[Any]) -> Iterator[Any]:
    for item in iterable:
        _charge(steps=1)
        yield item


@pass_context
def _written(context: Context, value: Any) -> str:
    _charge(written=_size(value, MAX_WRITTEN_CHARS))
    return str(value)


@pass_context
def _concat(context: Context, parts: list[Any]) -> str:
    _check_size(sum(_size(part) for part in parts))
    return "".join(map(str, parts))


def _range(*args: int) -> range:
    numbers = range(*args)
    if len(numbers) > MAX_RANGE:
        raise SecurityError(f"range() is limited to {MAX_RANGE} items")
    return numbers


def _bounded(func: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(func)  # also copies Jinja's pass_context marker
    def checked(*args: Any, **kwargs: Any) -> Any:
        _check_arguments(args, kwargs)
        return _checked(func(*args, **kwargs))

    return checked


def _size(value: Any, limit: int = MAX_VALUE_SIZE) -> int:
    """About how many characters `value` prints as; counting stops once past `limit`."""
    if isinstance(value, str):
        return len(value) + 2
    if isinstance(value, int):
        return value.bit_length() // 3 + 2
    if isinstance(value, Namespace):
        # A namespace prints all its attributes; only its own dict holds them. That dict
        # changes with every `set ns.x`, so it is measured afresh each time.
        attrs = object.__getattribute__(value, "_Namespace__attrs")
        return _measure(attrs.items(), limit, pairs=True)
    budget = _BUDGET.get()
    cached = budget.sizes.get(id(value)) if budget is not None else None
    if cached is not None and cached[0] is value:
        return cached[1]
    if isinstance(value, Mapping):
        total = _measure(value.items(), limit, pairs=True)
    elif isinstance(value, list | tuple | KeysView | ValuesView | ItemsView):
        total = _measure(value, limit, pairs=False)
    else:
        return 2
    # Lists and dicts cannot change inside the sandbox, so a complete count stays true;
    # the object is kept with it so that its id cannot be reused by another.
    if budget is not None and total <= limit and isinstance(value, list | dict):
        budget.sizes[id(value)] = (value, total)
    return total


def _measure(items: Iterable[Any], limit: int, *, pairs: bool) -> int:
    total = 2
    for item in items:
        total += _size(item[0], limit) + _size(item[1], limit) if pairs else _size(item, limit)
        if total > limit:
            break
    return total


def _check_size(size: int) -> None:
    if size > MAX_VALUE_SIZE:
        raise SecurityError(f"a value larger than {MAX_VALUE_SIZE} characters")


def _checked(value: Any) -> Any:
    _check_size(_size(value))
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise SecurityError(f"an integer larger than {MAX_INT_BITS} bits")
    return value


def _check_arguments(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    for value in (*args, *kwargs.values()):
        if not isinstance(value, Context | EvalContext | Environment):
            _checked(value)


def _check_binop(operator: str, left: Any, right: Any) -> None:
    """Refuse, before computing it, a result that would be too large."""
    ints = isinstance(left, int) and isinstance(right, int)
    if operator == "*":
        for seq, times in ((left, right), (right, left)):
            if isinstance(seq, str | list | tuple) and isinstance(times, int):
                _check_size(_size(seq) * max(times, 0))
        if ints and left.bit_length() + right.bit_length() > MAX_INT_BITS:
            raise SecurityError(f"an integer larger than {MAX_INT_BITS} bits")
    elif operator == "**":
        if ints and right > 0 and max(left.bit_length(), 1) * right > MAX_INT_BITS:
            raise SecurityError(f"an integer larger than {MAX_INT_BITS} bits")
    elif operator == "%" and isinstance(left, str):
        _check_size(_size(left) + _size(right))
        for field_ in _PRINTF_FIELD.finditer(left):
            for width in field_.groups():
                if width == "*" or (width is not None and int(width) > _MAX_FORMAT_WIDTH):
                    raise SecurityError(f"format widths are limited to {_MAX_FORMAT_WIDTH}")


def _check_replace(text: object, old: object, new: object) -> None:
    if isinstance(text, str) and isinstance(old, str) and isinstance(new, str):
        matches = text.count(old) if old else len(text) + 1
        _check_size(len(text) + matches * (len(new) - len(old)))


def _joinable(items: Iterable[Any], separator: str) -> list[Any]:
    listed = list(items)
    _check_size(len(separator) * len(listed) + sum(_size(item) for item in listed))
    return listed


@pass_eval_context
def _join(
    eval_ctx: EvalContext, value: Iterable[Any], d: str = "", attribute: str | int | None = None
) -> str:
    items = list(value)
    if attribute is not None:
        items = list(map(make_attrgetter(eval_ctx.environment, attribute), items))
    result: str = sync_do_join(eval_ctx, _joinable(items, str(d)), d)
    return result


def _replace(s: object, old: object, new: object, count: int | None = None) -> str:
    text, before, after = str(s), str(old), str(new)
    _check_replace(text, before, after)
    return text.replace(before, after, -1 if count is None else count)


def _tojson(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


@pass_environment
def _sum(
    environment: Environment,
    values: Iterable[Any],
    attribute: str | int | None = None,
    start: float = 0,
) -> Any:
    numbers = list(values)
    if attribute is not None:
        numbers = list(map(make_attrgetter(environment, attribute), numbers))
    # Adding up lists or strings is quadratic; numbers are all a tip template needs.
    if not all(isinstance(n, int | float) for n in [start, *numbers]):
        raise SecurityError("sum only adds numbers")
    return sum(numbers, start)
