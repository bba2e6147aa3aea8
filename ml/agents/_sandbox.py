"""A Jinja environment for templates written by third parties.

On top of Jinja's immutable sandbox (no private attributes, no mutation of builtins) it
allows only listed filters, globals and methods of ``str``/``list``/``tuple``/``dict``;
bounds the size of every value a template builds; and gives each render a
budget of loop iterations and calls, and of characters written, so a hostile template
fails fast instead of exhausting memory or a worker.

The parts: ``_sandbox_tree`` (what is refused and instrumented at load),
``_sandbox_filters`` (the filters a template may call), ``_sandbox_size`` (value sizes
and their limits) and ``_sandbox_budget`` (each render's budget).
"""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import Any

from jinja2 import StrictUndefined, Template, nodes
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

from ml.agents._sandbox_budget import charge, fresh_budget
from ml.agents._sandbox_filters import bounded, bounded_range, sandbox_filters
from ml.agents._sandbox_size import (
    check_arguments,
    check_binop,
    check_replace,
    checked,
    joinable,
)
from ml.agents._sandbox_tree import Instrument, refuse_escapes

MAX_SOURCE_CHARS = 20_000

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


def render(template: Template, context: dict[str, Any]) -> str:
    """Render with a fresh budget; SecurityError when a limit is hit."""
    with fresh_budget():
        return template.render(context)


def compile_template(env: SandboxEnvironment, source: str) -> Template:
    """Parse, instrument and compile `source`; Jinja's TemplateSyntaxError on bad syntax."""
    if len(source) > MAX_SOURCE_CHARS:
        raise SecurityError(f"template is longer than {MAX_SOURCE_CHARS} characters")
    parsed = env.parse(source)
    refuse_escapes(parsed)
    tree = Instrument().visit(parsed)
    assert isinstance(tree, nodes.Template)
    tree.set_environment(env)
    return env.from_string(tree)


class SandboxEnvironment(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"+", "*", "**", "%"})

    def __init__(self) -> None:
        super().__init__(
            autoescape=False, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True
        )
        self.filters = sandbox_filters(self.filters)
        cycler, joiner, namespace = (
            self.globals["cycler"],
            self.globals["joiner"],
            self.globals["namespace"],
        )
        self.globals = {
            "range": bounded_range,
            "dict": dict,
            "cycler": cycler,
            "joiner": joiner,
            "namespace": namespace,
        }

    def add_helper(self, name: str, helper: Callable[..., Any]) -> None:
        """Offer `helper` both as a global function and as a filter."""
        self.globals[name] = helper
        self.filters[name] = bounded(helper)

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
        check_binop(operator, left, right)
        return checked(super().call_binop(context, operator, left, right))

    def call(
        __self,  # Jinja's signature: the odd names keep callers' keyword arguments free
        __context: Context,
        __obj: Any,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        charge(steps=1)
        check_arguments(args, kwargs)
        if isinstance(getattr(__obj, "__self__", None), str):
            name = getattr(__obj, "__name__", "")
            if name == "replace" and len(args) >= 2:
                check_replace(__obj.__self__, args[0], args[1])
            elif name == "join" and args:
                args = (joinable(args[0], __obj.__self__), *args[1:])
        return checked(super().call(__context, __obj, *args, **kwargs))
