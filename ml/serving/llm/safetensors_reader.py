"""Read a ``.safetensors`` file into numpy arrays, without torch or the ``safetensors`` package.

The format is small: an 8-byte little-endian header length, a JSON header naming each
tensor's dtype, shape and byte range, then the raw little-endian data. The arrays are
read-only views of a memory map, so loading costs no copy and pages come in on first use.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

# safetensors dtype names → numpy, little-endian whatever the host's byte order.
_DTYPES: dict[str, str] = {
    "F64": "<f8",
    "F32": "<f4",
    "F16": "<f2",
    "I64": "<i8",
    "I32": "<i4",
    "I16": "<i2",
    "I8": "i1",
    "U8": "u1",
    "BOOL": "?",
}
_MAX_HEADER = 100 * 1024 * 1024  # the format's own limit


class SafetensorsError(ValueError):
    """The file is not a readable safetensors file; the message names the file and why."""


def read_safetensors(path: Path) -> dict[str, NDArray[Any]]:
    """Every tensor of ``path`` by name, as read-only arrays backed by a memory map."""
    try:
        data = np.memmap(path, dtype=np.uint8, mode="r")
    except (OSError, ValueError) as exc:
        raise SafetensorsError(f"{path}: cannot open ({exc})") from exc
    header = _header(path, data)
    start = 8 + int(struct.unpack("<Q", bytes(data[:8]))[0])
    tensors: dict[str, NDArray[Any]] = {}
    for name, spec in header.items():
        if name != "__metadata__":
            tensors[name] = _tensor(path, data, start, name, spec)
    return tensors


def _header(path: Path, data: NDArray[np.uint8]) -> dict[str, Any]:
    if data.size < 8:
        raise SafetensorsError(f"{path}: too short for a safetensors header")
    (length,) = struct.unpack("<Q", bytes(data[:8]))
    if length > _MAX_HEADER or 8 + length > data.size:
        raise SafetensorsError(f"{path}: header length {length} does not fit the file")
    try:
        header = json.loads(bytes(data[8 : 8 + length]).decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise SafetensorsError(f"{path}: header is not JSON ({exc})") from exc
    if not isinstance(header, dict):
        raise SafetensorsError(f"{path}: header is not a JSON object")
    return header


def _tensor(path: Path, data: NDArray[np.uint8], start: int, name: str, spec: Any) -> NDArray[Any]:
    try:
        dtype = np.dtype(_DTYPES[spec["dtype"]])
        shape = tuple(int(n) for n in spec["shape"])
        begin, end = (int(n) for n in spec["data_offsets"])
    except (KeyError, TypeError, ValueError) as exc:
        raise SafetensorsError(f"{path}: tensor {name!r} has a bad entry {spec!r}") from exc
    count = int(np.prod(shape, dtype=np.int64))
    if end - begin != count * dtype.itemsize or start + end > data.size or begin < 0:
        raise SafetensorsError(
            f"{path}: tensor {name!r} spans bytes {begin}..{end}, which does not match "
            f"its shape {list(shape)} of {spec['dtype']} or the file's size"
        )
    flat = np.frombuffer(data, dtype=dtype, count=count, offset=start + begin)
    return flat.reshape(shape)
