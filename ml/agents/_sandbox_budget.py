"""Each render's budget: loop iterations and calls made, characters written.

The budget lives in a context variable that only the sandbox's ``render()`` sets, so a
template cannot run (its counters refuse) outside a render. It also keeps the sizes of
the lists and dicts measured during the render (see ``ml.agents._sandbox_size``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

from jinja2.exceptions import SecurityError

MAX_STEPS = 20_000
MAX_WRITTEN_CHARS = 50_000


@dataclass(slots=True)
class Budget:
    steps: int = 0
    written: int = 0
    sizes: dict[int, tuple[object, int]] = field(default_factory=dict)


_BUDGET: ContextVar[Budget | None] = ContextVar("template_budget", default=None)


@contextmanager
def fresh_budget() -> Iterator[None]:
    """A new budget for the code run inside the block."""
    token = _BUDGET.set(Budget())
    try:
        yield
    finally:
        _BUDGET.reset(token)


def active_budget() -> Budget | None:
    """The running render's budget; None outside a render."""
    return _BUDGET.get()


def charge(*, steps: int = 0, written: int = 0) -> None:
    """Spend from the running render's budget; SecurityError once a limit is passed."""
    budget = _BUDGET.get()
    if budget is None:
        raise SecurityError("templates are rendered only through the sandbox's render()")
    budget.steps += steps
    budget.written += written
    if budget.steps > MAX_STEPS:
        raise SecurityError(f"template ran more than {MAX_STEPS} loop iterations and calls")
    if budget.written > MAX_WRITTEN_CHARS:
        raise SecurityError(f"template wrote more than {MAX_WRITTEN_CHARS} characters")
