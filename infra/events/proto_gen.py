"""Generate the Python code of proto/ and keep the released descriptor; one command each.

``python -m nudge_infra.events.proto_gen`` regenerates ``nudge/events/pb/`` from the schemas;
``--release`` also stores the descriptor set that later schemas must stay compatible with.
A test runs the generation into a temporary directory and compares it with what is committed.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent / "pb"
REPO_ROOT = OUT.parents[2]  # a development tool: run from a checkout
PROTO_ROOT = REPO_ROOT / "proto"
SCHEMA = "nudge/events/v1/events.proto"
RELEASED = PROTO_ROOT / "released" / "nudge.events.v1.binpb"


def generate(out: Path) -> list[Path]:
    """Write events_pb2.py and events_pb2.pyi for SCHEMA into ``out``; return them."""
    from grpc_tools import protoc  # a dev tool: only needed to regenerate

    with tempfile.TemporaryDirectory() as tmp:
        include = Path(protoc.__file__).parent / "_proto"
        code = protoc.main(
            [
                "protoc",
                f"-I{PROTO_ROOT}",
                f"-I{include}",
                f"--python_out={tmp}",
                f"--pyi_out={tmp}",
                SCHEMA,
            ]
        )
        if code != 0:
            raise RuntimeError(f"protoc failed with exit code {code}")
        produced = Path(tmp) / Path(SCHEMA).parent
        out.mkdir(parents=True, exist_ok=True)
        written = []
        for name in ("events_pb2.py", "events_pb2.pyi"):
            target = out / name
            shutil.copyfile(produced / name, target)
            written.append(target)
    return written


def descriptor_set() -> bytes:
    """The FileDescriptorSet of SCHEMA, from the generated module (what is served)."""
    from google.protobuf import descriptor_pb2

    from nudge_infra.events.pb import events_pb2

    files = descriptor_pb2.FileDescriptorSet()
    events_pb2.DESCRIPTOR.CopyToProto(files.file.add())
    return files.SerializeToString()


def incompatibilities(released: bytes, current: bytes) -> list[str]:
    """What ``current`` breaks of ``released`` (both serialized FileDescriptorSets).

    A released message must keep every field under the same number, with the same type,
    label and type name; a released enum must keep every value number. Adding is free.
    """
    from google.protobuf import descriptor_pb2

    def index(data: bytes) -> dict[str, Any]:
        files = descriptor_pb2.FileDescriptorSet.FromString(data)
        found: dict[str, Any] = {}

        def walk(prefix: str, messages: Any, enums: Any) -> None:
            for enum in enums:
                found[f"{prefix}{enum.name}"] = enum
            for message in messages:
                name = f"{prefix}{message.name}"
                found[name] = message
                walk(f"{name}.", message.nested_type, message.enum_type)

        for f in files.file:
            walk(f"{f.package}.", f.message_type, f.enum_type)
        return found

    old, new = index(released), index(current)
    problems = []
    for name, was in old.items():
        now = new.get(name)
        if now is None:
            problems.append(f"{name} was removed")
            continue
        if isinstance(was, descriptor_pb2.EnumDescriptorProto):
            numbers = {v.number: v.name for v in now.value}
            for value in was.value:
                if value.number not in numbers:
                    problems.append(f"{name}.{value.name} ({value.number}) was removed")
            continue
        fields = {f.number: f for f in now.field}
        for field in was.field:
            same = fields.get(field.number)
            if same is None:
                problems.append(f"{name}.{field.name} (field {field.number}) was removed")
            elif (same.type, same.label, same.type_name) != (
                field.type,
                field.label,
                field.type_name,
            ):
                problems.append(f"{name}.{field.name} (field {field.number}) changed its type")
            elif same.name != field.name:
                problems.append(
                    f"{name}: field {field.number} was renamed {field.name} -> {same.name}"
                )
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--release", action="store_true", help="store the released descriptor")
    args = parser.parse_args(argv)
    for path in generate(OUT):
        print(f"wrote {path.relative_to(REPO_ROOT)}")
    if args.release:
        RELEASED.parent.mkdir(parents=True, exist_ok=True)
        RELEASED.write_bytes(descriptor_set())
        print(f"wrote {RELEASED.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
