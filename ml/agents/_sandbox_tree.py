"""What the sandbox does to a parsed template before Jinja compiles it.

``refuse_escapes`` rejects at load what the sandbox would only refuse at render time;
``Instrument`` routes loops, output and string concatenation through the filters that
charge the render's budget and check sizes (see ``ml.agents._sandbox_filters``).
"""

from __future__ import annotations

from jinja2 import nodes
from jinja2.exceptions import TemplateSyntaxError
from jinja2.visitor import NodeTransformer

from ml.agents._sandbox_filters import CONCAT_FILTER, COUNT_FILTER, WRITE_FILTER

_NO_LOADING = (nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends)


def refuse_escapes(tree: nodes.Template) -> None:
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


class Instrument(NodeTransformer):
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
