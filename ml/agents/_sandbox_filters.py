"""The filters and the ``range`` a template may call.

Jinja's own filters where they yield at most about as much as they are given; bounded
replacements for join, replace, sum and tojson; and the three filters an instrumented
template calls to charge its budget (see ``ml.agents._sandbox_tree``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from functools import wraps
from typing import Any

from jinja2 import Environment, pass_context, pass_environment, pass_eval_context
from jinja2.exceptions import SecurityError
from jinja2.filters import make_attrgetter, sync_do_join
from jinja2.nodes import EvalContext
from jinja2.runtime import Context

from ml.agents._sandbox_budget import MAX_WRITTEN_CHARS, charge
from ml.agents._sandbox_size import (
    check_arguments,
    check_replace,
    check_size,
    checked,
    joinable,
    size,
)

MAX_RANGE = 1_000

COUNT_FILTER = "_nudge_counted"
WRITE_FILTER = "_nudge_written"
CONCAT_FILTER = "_nudge_concat"

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


def sandbox_filters(
    jinja_filters: Mapping[str, Callable[..., Any]],
) -> dict[str, Callable[..., Any]]:
    """The sandbox's filters, from Jinja's default ones (`jinja_filters`)."""
    filters = {name: bounded(jinja_filters[name]) for name in _FILTERS}
    filters["join"] = bounded(_join)
    filters["replace"] = bounded(_replace)
    filters["sum"] = bounded(_sum)
    filters["tojson"] = bounded(_tojson)
    filters[COUNT_FILTER] = _counted
    filters[WRITE_FILTER] = _written
    filters[CONCAT_FILTER] = _concat
    return filters


def bounded(func: Callable[..., Any]) -> Callable[..., Any]:
    """`func`, refusing arguments and results beyond the size limits."""

    @wraps(func)  # also copies Jinja's pass_context marker
    def checked_call(*args: Any, **kwargs: Any) -> Any:
        check_arguments(args, kwargs)
        return checked(func(*args, **kwargs))

    return checked_call


def bounded_range(*args: int) -> range:
    """The template's ``range()``."""
    numbers = range(*args)
    if len(numbers) > MAX_RANGE:
        raise SecurityError(f"range() is limited to {MAX_RANGE} items")
    return numbers


# pass_context keeps Jinja from folding these at compile time, where no budget applies.
@pass_context
def _counted(context: Context, iterable: Iterable[Any]) -> Iterator[Any]:
    for item in iterable:
        charge(steps=1)
        yield item


@pass_context
def _written(context: Context, value: Any) -> str:
    charge(written=size(value, MAX_WRITTEN_CHARS))
    return str(value)


@pass_context
def _concat(context: Context, parts: list[Any]) -> str:
    check_size(sum(size(part) for part in parts))
    return "".join(map(str, parts))


@pass_eval_context
def _join(
    eval_ctx: EvalContext, value: Iterable[Any], d: str = "", attribute: str | int | None = None
) -> str:
    items = list(value)
    if attribute is not None:
        items = list(map(make_attrgetter(eval_ctx.environment, attribute), items))
    result: str = sync_do_join(eval_ctx, joinable(items, str(d)), d)
    return result


def _replace(s: object, old: object, new: object, count: int | None = None) -> str:
    text, before, after = str(s), str(old), str(new)
    check_replace(text, before, after)
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
