"""datetime <-> google.protobuf.Timestamp, shared by every servicer."""

from __future__ import annotations

from datetime import UTC, datetime

from google.protobuf import timestamp_pb2

from mesh_runtime.errors import InvalidArgument

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# google.protobuf.Timestamp's own range, 0001-01-01 .. 9999-12-31: a gRPC client can send
# any int64, which would overflow datetime.
_MIN_SECONDS = -62_135_596_800
_MAX_SECONDS = 253_402_300_799


def to_timestamp(value: datetime) -> timestamp_pb2.Timestamp:
    # Direct arithmetic: Timestamp.FromDatetime costs several times more, paid per row.
    delta = value - _EPOCH
    return timestamp_pb2.Timestamp(
        seconds=delta.days * 86400 + delta.seconds, nanos=delta.microseconds * 1000
    )


def optional_timestamp(value: datetime | None) -> timestamp_pb2.Timestamp | None:
    return None if value is None else to_timestamp(value)


def field_datetime(message: object, name: str) -> datetime | None:
    """The aware UTC datetime of Timestamp field ``name``, or None when it is unset; a
    value outside the Timestamp range is a field violation."""
    if not message.HasField(name):  # type: ignore[attr-defined]
        return None
    stamp: timestamp_pb2.Timestamp = getattr(message, name)
    if not (_MIN_SECONDS <= stamp.seconds <= _MAX_SECONDS and 0 <= stamp.nanos < 10**9):
        raise InvalidArgument.single(name, "must be a time between the years 1 and 9999")
    value: datetime = stamp.ToDatetime(tzinfo=UTC)
    return value
