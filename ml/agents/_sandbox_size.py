"""How large a value a template builds, and refusing one too large, before or after it is built.

The size of a value is about how many characters it prints as (see ``size``).
"""

from __future__ import annotations

import re
from collections.abc import ItemsView, Iterable, KeysView, Mapping, ValuesView
from typing import Any

from jinja2 import Environment
from jinja2.exceptions import SecurityError
from jinja2.nodes import EvalContext
from jinja2.runtime import Context
from jinja2.utils import Namespace

from ml.agents._sandbox_budget import active_budget

MAX_VALUE_SIZE = 2_000_000
MAX_INT_BITS = 4_096
# A printf width beyond this is padding, not formatting.
_MAX_FORMAT_WIDTH = 100
_PRINTF_FIELD = re.compile(r"%(?:\([^)]*\))?[#0 +\-]*(\*|\d+)?(?:\.(\*|\d+))?")


def size(value: Any, limit: int = MAX_VALUE_SIZE) -> int:
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
    budget = active_budget()
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
        total += size(item[0], limit) + size(item[1], limit) if pairs else size(item, limit)
        if total > limit:
            break
    return total


def check_size(value_size: int) -> None:
    if value_size > MAX_VALUE_SIZE:
        raise SecurityError(f"a value larger than {MAX_VALUE_SIZE} characters")


def checked(value: Any) -> Any:
    """`value`, once it is known to be within the size and integer limits."""
    check_size(size(value))
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise SecurityError(f"an integer larger than {MAX_INT_BITS} bits")
    return value


def check_arguments(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    for value in (*args, *kwargs.values()):
        if not isinstance(value, Context | EvalContext | Environment):
            checked(value)


def check_binop(operator: str, left: Any, right: Any) -> None:
    """Refuse, before computing it, a result that would be too large."""
    ints = isinstance(left, int) and isinstance(right, int)
    if operator == "*":
        for seq, times in ((left, right), (right, left)):
            if isinstance(seq, str | list | tuple) and isinstance(times, int):
                check_size(size(seq) * max(times, 0))
        if ints and left.bit_length() + right.bit_length() > MAX_INT_BITS:
            raise SecurityError(f"an integer larger than {MAX_INT_BITS} bits")
    elif operator == "**":
        if ints and right > 0 and max(left.bit_length(), 1) * right > MAX_INT_BITS:
            raise SecurityError(f"an integer larger than {MAX_INT_BITS} bits")
    elif operator == "%" and isinstance(left, str):
        check_size(size(left) + size(right))
        for field_ in _PRINTF_FIELD.finditer(left):
            for width in field_.groups():
                if width == "*" or (width is not None and int(width) > _MAX_FORMAT_WIDTH):
                    raise SecurityError(f"format widths are limited to {_MAX_FORMAT_WIDTH}")


def check_replace(text: object, old: object, new: object) -> None:
    """Refuse, before it is made, a ``text.replace(old, new)`` that would be too large."""
    if isinstance(text, str) and isinstance(old, str) and isinstance(new, str):
        matches = text.count(old) if old else len(text) + 1
        check_size(len(text) + matches * (len(new) - len(old)))


def joinable(items: Iterable[Any], separator: str) -> list[Any]:
    """`items` as a list, once joining them with `separator` is known to stay small enough."""
    listed = list(items)
    check_size(len(separator) * len(listed) + sum(size(item) for item in listed))
    return listed
