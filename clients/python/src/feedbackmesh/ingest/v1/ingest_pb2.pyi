import datetime

from feedbackmesh.feedback.v1 import feedback_pb2 as _feedback_pb2
from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetIngestStatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetIngestStatusResponse(_message.Message):
    __slots__ = ("backlog", "lag_seconds", "rows_ingested", "batches_ingested", "rows_in_clickhouse", "pending_sentiment", "last_error", "last_error_time", "last_ingest_time", "pubsub_connected")
    BACKLOG_FIELD_NUMBER: _ClassVar[int]
    LAG_SECONDS_FIELD_NUMBER: _ClassVar[int]
    ROWS_INGESTED_FIELD_NUMBER: _ClassVar[int]
    BATCHES_INGESTED_FIELD_NUMBER: _ClassVar[int]
    ROWS_IN_CLICKHOUSE_FIELD_NUMBER: _ClassVar[int]
    PENDING_SENTIMENT_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_TIME_FIELD_NUMBER: _ClassVar[int]
    LAST_INGEST_TIME_FIELD_NUMBER: _ClassVar[int]
    PUBSUB_CONNECTED_FIELD_NUMBER: _ClassVar[int]
    backlog: int
    lag_seconds: float
    rows_ingested: int
    batches_ingested: int
    rows_in_clickhouse: int
    pending_sentiment: int
    last_error: str
    last_error_time: _timestamp_pb2.Timestamp
    last_ingest_time: _timestamp_pb2.Timestamp
    pubsub_connected: bool
    def __init__(self, backlog: _Optional[int] = ..., lag_seconds: _Optional[float] = ..., rows_ingested: _Optional[int] = ..., batches_ingested: _Optional[int] = ..., rows_in_clickhouse: _Optional[int] = ..., pending_sentiment: _Optional[int] = ..., last_error: _Optional[str] = ..., last_error_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_ingest_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., pubsub_connected: _Optional[bool] = ...) -> None: ...

class IngestEventsRequest(_message.Message):
    __slots__ = ("events",)
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[_feedback_pb2.FeedbackEvent]
    def __init__(self, events: _Optional[_Iterable[_Union[_feedback_pb2.FeedbackEvent, _Mapping]]] = ...) -> None: ...

class IngestEventsResponse(_message.Message):
    __slots__ = ("inserted_count", "duplicate_count")
    INSERTED_COUNT_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_COUNT_FIELD_NUMBER: _ClassVar[int]
    inserted_count: int
    duplicate_count: int
    def __init__(self, inserted_count: _Optional[int] = ..., duplicate_count: _Optional[int] = ...) -> None: ...
