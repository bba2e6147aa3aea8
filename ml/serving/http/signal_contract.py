"""The signal kinds in the OpenAPI document: a gateway's generated client knows each payload.

FastAPI documents ``SignalIn.payload`` as any object; the kinds are data read at start, so
the document is completed here: one ``Signal_<kind>`` schema per kind a gateway may send,
with the kind's payload schema, and ``SignalIn`` as their union, told apart by ``kind``.
"""

from __future__ import annotations

import copy
from typing import Any

from nudge_profile.signal_kinds import SignalKinds

_REF = "#/components/schemas/"


def document_signal_kinds(spec: dict[str, Any], kinds: SignalKinds) -> dict[str, Any]:
    """``spec`` with ``SignalIn`` replaced by one variant per kind a gateway may send."""
    schemas = spec.get("components", {}).get("schemas", {})
    base = schemas.get("SignalIn")
    if base is None:
        return spec
    variants: dict[str, str] = {}
    for kind in kinds:
        if kind.reserved:
            continue
        name = f"Signal_{kind.name}"
        properties = copy.deepcopy(base["properties"])
        properties["kind"] = {"type": "string", "const": kind.name, "title": "Kind"}
        properties["payload"] = {
            **copy.deepcopy(kind.schema),
            "title": f"{kind.name} payload",
            "description": kind.description,
            "examples": [kind.example],
        }
        schemas[name] = {**copy.deepcopy(base), "title": name, "properties": properties}
        variants[kind.name] = _REF + name
    schemas["SignalIn"] = {
        "title": "SignalIn",
        "description": "A signal of one of the kinds listed by `GET /v1/signal-kinds`.",
        "oneOf": [{"$ref": ref} for ref in variants.values()],
        "discriminator": {"propertyName": "kind", "mapping": variants},
    }
    return spec
