"""The JSON schema of manifests, for editors and CI: ``python -m ml.registry.schema [path]``."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from ml.registry.durations import format_duration
from ml.registry.manifest import Manifest

DEFAULT_PATH = Path("manifests/schema.json")


class _OmitNull(GenerateJsonSchema):
    # An optional field is written by leaving it out; offering `null` to authors in
    # editors would only invite `entrypoint: null` next to a template.
    def nullable_schema(self, schema: core_schema.NullableSchema) -> JsonSchemaValue:
        return self.generate_inner(schema["schema"])

    def default_schema(self, schema: core_schema.WithDefaultSchema) -> JsonSchemaValue:
        json_schema = super().default_schema(schema)
        if schema.get("default", ...) is None:
            json_schema.pop("default", None)
        return json_schema

    def encode_default(self, dft: Any) -> Any:
        # Shown as authors write it ("5s"), not as ISO 8601 ("PT5S").
        return format_duration(dft) if isinstance(dft, timedelta) else super().encode_default(dft)


def manifest_json_schema() -> dict[str, Any]:
    schema = Manifest.model_json_schema(schema_generator=_OmitNull)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **schema,
        "title": "Nudge agent manifest",
    }


def render_schema() -> str:
    """Return the schema file's exact content: indented, sorted keys, trailing newline."""
    return json.dumps(manifest_json_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Write the schema to the given path (default manifests/schema.json)."""
    args = sys.argv[1:] if argv is None else list(argv)
    path = Path(args[0]) if args else DEFAULT_PATH
    path.write_text(render_schema(), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
