"""Requests whose bytes do not decode (text that is not UTF-8, nesting beyond protobuf's
limit of 100 levels): the server's deserializer would fail them as UNKNOWN with the
parser's text. They become a marker instead, which the interceptor turns into
INVALID_ARGUMENT naming the field that failed (found by walking the wire format)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from google.protobuf import descriptor as pb_descriptor
from google.protobuf import message_factory
from google.protobuf.message import DecodeError, Message

# Fields of these are not descended into: the path ends at the field that holds them.
_OPAQUE_PACKAGES = ("google.protobuf.",)
_MAX_PATH_DEPTH = 4


@dataclass(frozen=True, slots=True)
class Undecodable:
    field: str

    DESCRIPTION = "is not valid: text must be UTF-8 and values nest at most 16 levels"


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while pos < len(data):
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            break
    raise DecodeError("bad varint")


def _failing_field(message: pb_descriptor.Descriptor, data: bytes, depth: int) -> str:
    """The path of the first field of ``message`` in ``data`` that does not decode ("")."""
    counts: dict[int, int] = {}
    pos = 0
    try:
        while pos < len(data):
            key, pos = _varint(data, pos)
            number, wire_type = key >> 3, key & 7
            if wire_type == 0:
                _, pos = _varint(data, pos)
                continue
            if wire_type in (1, 5):
                pos += 8 if wire_type == 1 else 4
                continue
            if wire_type != 2:
                return ""
            length, pos = _varint(data, pos)
            chunk, pos = data[pos : pos + length], pos + length
            field = message.fields_by_number.get(number)
            if field is None:
                continue
            index = counts[number] = counts.get(number, -1) + 1
            name = field.name
            if field.is_repeated and not (
                field.message_type is not None and field.message_type.GetOptions().map_entry
            ):
                name += f"[{index}]"
            inner = _chunk_problem(field, chunk, depth)
            if inner is not None:
                return f"{name}.{inner}" if inner else name
    except DecodeError:
        return ""
    return ""


def _chunk_problem(field: pb_descriptor.FieldDescriptor, chunk: bytes, depth: int) -> str | None:
    """None when ``chunk`` decodes as ``field``; else the path inside it ("" = the field)."""
    if field.type == pb_descriptor.FieldDescriptor.TYPE_STRING:
        try:
            chunk.decode("utf-8")
        except UnicodeDecodeError:
            return ""
        return None
    if field.message_type is None:
        return None
    try:
        message_factory.GetMessageClass(field.message_type).FromString(chunk)
    except DecodeError:
        if depth >= _MAX_PATH_DEPTH or field.message_type.full_name.startswith(_OPAQUE_PACKAGES):
            return ""
        return _failing_field(field.message_type, chunk, depth + 1)
    return None


def guarded_deserializer(
    deserializer: Callable[[bytes], Any] | None,
) -> Callable[[bytes], Any] | None:
    """``deserializer`` returning :class:`Undecodable` instead of raising."""
    if deserializer is None:
        return None
    # A generated message's FromString is bound to its class.
    owner: Any = getattr(deserializer, "__self__", None)
    message: pb_descriptor.Descriptor | None = getattr(owner, "DESCRIPTOR", None)
    if not (isinstance(owner, type) and issubclass(owner, Message)):
        message = None

    def deserialize(data: bytes) -> Any:
        try:
            return deserializer(data)
        except DecodeError:
            path = _failing_field(message, data, 0) if message is not None else ""
            return Undecodable(path or "request")

    return deserialize
