import datetime

from feedbackmesh.sentiment.v1 import sentiment_pb2 as _sentiment_pb2
from google.api import annotations_pb2 as _annotations_pb2
from google.api import httpbody_pb2 as _httpbody_pb2
from google.protobuf import empty_pb2 as _empty_pb2
from google.protobuf import field_mask_pb2 as _field_mask_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.rpc import error_details_pb2 as _error_details_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class FeedbackType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FEEDBACK_TYPE_UNSPECIFIED: _ClassVar[FeedbackType]
    FEEDBACK_TYPE_EXECUTION: _ClassVar[FeedbackType]
    FEEDBACK_TYPE_AGENT: _ClassVar[FeedbackType]
    FEEDBACK_TYPE_CHAT: _ClassVar[FeedbackType]
    FEEDBACK_TYPE_GENERAL: _ClassVar[FeedbackType]

class SentimentStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SENTIMENT_STATUS_UNSPECIFIED: _ClassVar[SentimentStatus]
    SENTIMENT_STATUS_NO_COMMENT: _ClassVar[SentimentStatus]
    SENTIMENT_STATUS_PENDING: _ClassVar[SentimentStatus]
    SENTIMENT_STATUS_SCORED: _ClassVar[SentimentStatus]

class BatchItemStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BATCH_ITEM_STATUS_UNSPECIFIED: _ClassVar[BatchItemStatus]
    BATCH_ITEM_STATUS_CREATED: _ClassVar[BatchItemStatus]
    BATCH_ITEM_STATUS_DUPLICATE: _ClassVar[BatchItemStatus]
    BATCH_ITEM_STATUS_INVALID: _ClassVar[BatchItemStatus]
    BATCH_ITEM_STATUS_CONFLICT: _ClassVar[BatchItemStatus]
FEEDBACK_TYPE_UNSPECIFIED: FeedbackType
FEEDBACK_TYPE_EXECUTION: FeedbackType
FEEDBACK_TYPE_AGENT: FeedbackType
FEEDBACK_TYPE_CHAT: FeedbackType
FEEDBACK_TYPE_GENERAL: FeedbackType
SENTIMENT_STATUS_UNSPECIFIED: SentimentStatus
SENTIMENT_STATUS_NO_COMMENT: SentimentStatus
SENTIMENT_STATUS_PENDING: SentimentStatus
SENTIMENT_STATUS_SCORED: SentimentStatus
BATCH_ITEM_STATUS_UNSPECIFIED: BatchItemStatus
BATCH_ITEM_STATUS_CREATED: BatchItemStatus
BATCH_ITEM_STATUS_DUPLICATE: BatchItemStatus
BATCH_ITEM_STATUS_INVALID: BatchItemStatus
BATCH_ITEM_STATUS_CONFLICT: BatchItemStatus

class Feedback(_message.Message):
    __slots__ = ("id", "tenant_id", "user_id", "feedback_type", "execution_id", "agent_id", "chat_session_id", "rating", "comment", "sentiment", "sentiment_score", "sentiment_status", "tags", "metadata", "request_id", "created_at", "updated_at", "revision", "etag")
    ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    FEEDBACK_TYPE_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    CHAT_SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    RATING_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    SENTIMENT_FIELD_NUMBER: _ClassVar[int]
    SENTIMENT_SCORE_FIELD_NUMBER: _ClassVar[int]
    SENTIMENT_STATUS_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    id: int
    tenant_id: str
    user_id: str
    feedback_type: FeedbackType
    execution_id: int
    agent_id: int
    chat_session_id: str
    rating: int
    comment: str
    sentiment: _sentiment_pb2.SentimentLabel
    sentiment_score: float
    sentiment_status: SentimentStatus
    tags: _containers.RepeatedScalarFieldContainer[str]
    metadata: _struct_pb2.Struct
    request_id: str
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    revision: int
    etag: str
    def __init__(self, id: _Optional[int] = ..., tenant_id: _Optional[str] = ..., user_id: _Optional[str] = ..., feedback_type: _Optional[_Union[FeedbackType, str]] = ..., execution_id: _Optional[int] = ..., agent_id: _Optional[int] = ..., chat_session_id: _Optional[str] = ..., rating: _Optional[int] = ..., comment: _Optional[str] = ..., sentiment: _Optional[_Union[_sentiment_pb2.SentimentLabel, str]] = ..., sentiment_score: _Optional[float] = ..., sentiment_status: _Optional[_Union[SentimentStatus, str]] = ..., tags: _Optional[_Iterable[str]] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., request_id: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., revision: _Optional[int] = ..., etag: _Optional[str] = ...) -> None: ...

class SubmitFeedbackRequest(_message.Message):
    __slots__ = ("request_id", "feedback_type", "execution_id", "agent_id", "chat_session_id", "rating", "comment", "tags", "metadata")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    FEEDBACK_TYPE_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    CHAT_SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    RATING_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    feedback_type: FeedbackType
    execution_id: int
    agent_id: int
    chat_session_id: str
    rating: int
    comment: str
    tags: _containers.RepeatedScalarFieldContainer[str]
    metadata: _struct_pb2.Struct
    def __init__(self, request_id: _Optional[str] = ..., feedback_type: _Optional[_Union[FeedbackType, str]] = ..., execution_id: _Optional[int] = ..., agent_id: _Optional[int] = ..., chat_session_id: _Optional[str] = ..., rating: _Optional[int] = ..., comment: _Optional[str] = ..., tags: _Optional[_Iterable[str]] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class BatchSubmitFeedbackRequest(_message.Message):
    __slots__ = ("requests",)
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    requests: _containers.RepeatedCompositeFieldContainer[SubmitFeedbackRequest]
    def __init__(self, requests: _Optional[_Iterable[_Union[SubmitFeedbackRequest, _Mapping]]] = ...) -> None: ...

class BatchSubmitResult(_message.Message):
    __slots__ = ("index", "status", "feedback", "field_violations")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    FEEDBACK_FIELD_NUMBER: _ClassVar[int]
    FIELD_VIOLATIONS_FIELD_NUMBER: _ClassVar[int]
    index: int
    status: BatchItemStatus
    feedback: Feedback
    field_violations: _containers.RepeatedCompositeFieldContainer[_error_details_pb2.BadRequest.FieldViolation]
    def __init__(self, index: _Optional[int] = ..., status: _Optional[_Union[BatchItemStatus, str]] = ..., feedback: _Optional[_Union[Feedback, _Mapping]] = ..., field_violations: _Optional[_Iterable[_Union[_error_details_pb2.BadRequest.FieldViolation, _Mapping]]] = ...) -> None: ...

class BatchSubmitFeedbackResponse(_message.Message):
    __slots__ = ("results", "created_count", "duplicate_count", "invalid_count", "conflict_count")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    CREATED_COUNT_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_COUNT_FIELD_NUMBER: _ClassVar[int]
    INVALID_COUNT_FIELD_NUMBER: _ClassVar[int]
    CONFLICT_COUNT_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[BatchSubmitResult]
    created_count: int
    duplicate_count: int
    invalid_count: int
    conflict_count: int
    def __init__(self, results: _Optional[_Iterable[_Union[BatchSubmitResult, _Mapping]]] = ..., created_count: _Optional[int] = ..., duplicate_count: _Optional[int] = ..., invalid_count: _Optional[int] = ..., conflict_count: _Optional[int] = ...) -> None: ...

class GetFeedbackRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: int
    def __init__(self, id: _Optional[int] = ...) -> None: ...

class UpdateFeedbackRequest(_message.Message):
    __slots__ = ("feedback", "update_mask")
    FEEDBACK_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    feedback: Feedback
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, feedback: _Optional[_Union[Feedback, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class DeleteFeedbackRequest(_message.Message):
    __slots__ = ("id", "etag")
    ID_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    id: int
    etag: str
    def __init__(self, id: _Optional[int] = ..., etag: _Optional[str] = ...) -> None: ...

class ListFeedbackRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "feedback_type", "execution_id", "agent_id", "chat_session_id", "min_rating", "max_rating", "sentiment", "tag", "start_time", "end_time", "user_id")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    FEEDBACK_TYPE_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    CHAT_SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    MIN_RATING_FIELD_NUMBER: _ClassVar[int]
    MAX_RATING_FIELD_NUMBER: _ClassVar[int]
    SENTIMENT_FIELD_NUMBER: _ClassVar[int]
    TAG_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    feedback_type: FeedbackType
    execution_id: int
    agent_id: int
    chat_session_id: str
    min_rating: int
    max_rating: int
    sentiment: _sentiment_pb2.SentimentLabel
    tag: str
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    user_id: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., feedback_type: _Optional[_Union[FeedbackType, str]] = ..., execution_id: _Optional[int] = ..., agent_id: _Optional[int] = ..., chat_session_id: _Optional[str] = ..., min_rating: _Optional[int] = ..., max_rating: _Optional[int] = ..., sentiment: _Optional[_Union[_sentiment_pb2.SentimentLabel, str]] = ..., tag: _Optional[str] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., user_id: _Optional[str] = ...) -> None: ...

class ListFeedbackResponse(_message.Message):
    __slots__ = ("feedback", "next_page_token")
    FEEDBACK_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    feedback: _containers.RepeatedCompositeFieldContainer[Feedback]
    next_page_token: str
    def __init__(self, feedback: _Optional[_Iterable[_Union[Feedback, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ExportFeedbackRequest(_message.Message):
    __slots__ = ("format", "feedback_type", "execution_id", "agent_id", "chat_session_id", "min_rating", "max_rating", "sentiment", "tag", "start_time", "end_time", "user_id")
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    FEEDBACK_TYPE_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    CHAT_SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    MIN_RATING_FIELD_NUMBER: _ClassVar[int]
    MAX_RATING_FIELD_NUMBER: _ClassVar[int]
    SENTIMENT_FIELD_NUMBER: _ClassVar[int]
    TAG_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    format: str
    feedback_type: FeedbackType
    execution_id: int
    agent_id: int
    chat_session_id: str
    min_rating: int
    max_rating: int
    sentiment: _sentiment_pb2.SentimentLabel
    tag: str
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    user_id: str
    def __init__(self, format: _Optional[str] = ..., feedback_type: _Optional[_Union[FeedbackType, str]] = ..., execution_id: _Optional[int] = ..., agent_id: _Optional[int] = ..., chat_session_id: _Optional[str] = ..., min_rating: _Optional[int] = ..., max_rating: _Optional[int] = ..., sentiment: _Optional[_Union[_sentiment_pb2.SentimentLabel, str]] = ..., tag: _Optional[str] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., user_id: _Optional[str] = ...) -> None: ...

class FeedbackEvent(_message.Message):
    __slots__ = ("sequence", "feedback_id", "tenant_id", "user_id", "feedback_type", "execution_id", "agent_id", "chat_session_id", "rating", "sentiment", "sentiment_score", "has_comment", "tags", "created_at", "released_at", "traceparent", "revision", "deleted")
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    FEEDBACK_ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    FEEDBACK_TYPE_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    CHAT_SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    RATING_FIELD_NUMBER: _ClassVar[int]
    SENTIMENT_FIELD_NUMBER: _ClassVar[int]
    SENTIMENT_SCORE_FIELD_NUMBER: _ClassVar[int]
    HAS_COMMENT_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    RELEASED_AT_FIELD_NUMBER: _ClassVar[int]
    TRACEPARENT_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    DELETED_FIELD_NUMBER: _ClassVar[int]
    sequence: int
    feedback_id: int
    tenant_id: str
    user_id: str
    feedback_type: FeedbackType
    execution_id: int
    agent_id: int
    chat_session_id: str
    rating: int
    sentiment: _sentiment_pb2.SentimentLabel
    sentiment_score: float
    has_comment: bool
    tags: _containers.RepeatedScalarFieldContainer[str]
    created_at: _timestamp_pb2.Timestamp
    released_at: _timestamp_pb2.Timestamp
    traceparent: str
    revision: int
    deleted: bool
    def __init__(self, sequence: _Optional[int] = ..., feedback_id: _Optional[int] = ..., tenant_id: _Optional[str] = ..., user_id: _Optional[str] = ..., feedback_type: _Optional[_Union[FeedbackType, str]] = ..., execution_id: _Optional[int] = ..., agent_id: _Optional[int] = ..., chat_session_id: _Optional[str] = ..., rating: _Optional[int] = ..., sentiment: _Optional[_Union[_sentiment_pb2.SentimentLabel, str]] = ..., sentiment_score: _Optional[float] = ..., has_comment: _Optional[bool] = ..., tags: _Optional[_Iterable[str]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., released_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., traceparent: _Optional[str] = ..., revision: _Optional[int] = ..., deleted: _Optional[bool] = ...) -> None: ...

class PullOutboxEventsRequest(_message.Message):
    __slots__ = ("max_events", "after_sequence")
    MAX_EVENTS_FIELD_NUMBER: _ClassVar[int]
    AFTER_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    max_events: int
    after_sequence: int
    def __init__(self, max_events: _Optional[int] = ..., after_sequence: _Optional[int] = ...) -> None: ...

class PullOutboxEventsResponse(_message.Message):
    __slots__ = ("events",)
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[FeedbackEvent]
    def __init__(self, events: _Optional[_Iterable[_Union[FeedbackEvent, _Mapping]]] = ...) -> None: ...

class AckOutboxEventsRequest(_message.Message):
    __slots__ = ("sequences",)
    SEQUENCES_FIELD_NUMBER: _ClassVar[int]
    sequences: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, sequences: _Optional[_Iterable[int]] = ...) -> None: ...

class AckOutboxEventsResponse(_message.Message):
    __slots__ = ("acknowledged_count",)
    ACKNOWLEDGED_COUNT_FIELD_NUMBER: _ClassVar[int]
    acknowledged_count: int
    def __init__(self, acknowledged_count: _Optional[int] = ...) -> None: ...

class GetOutboxStatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetOutboxStatusResponse(_message.Message):
    __slots__ = ("backlog", "pending_sentiment", "oldest_unacknowledged_created_at", "released_total", "acknowledged_total")
    BACKLOG_FIELD_NUMBER: _ClassVar[int]
    PENDING_SENTIMENT_FIELD_NUMBER: _ClassVar[int]
    OLDEST_UNACKNOWLEDGED_CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    RELEASED_TOTAL_FIELD_NUMBER: _ClassVar[int]
    ACKNOWLEDGED_TOTAL_FIELD_NUMBER: _ClassVar[int]
    backlog: int
    pending_sentiment: int
    oldest_unacknowledged_created_at: _timestamp_pb2.Timestamp
    released_total: int
    acknowledged_total: int
    def __init__(self, backlog: _Optional[int] = ..., pending_sentiment: _Optional[int] = ..., oldest_unacknowledged_created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., released_total: _Optional[int] = ..., acknowledged_total: _Optional[int] = ...) -> None: ...
