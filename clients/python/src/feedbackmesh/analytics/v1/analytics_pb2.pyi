import datetime

from feedbackmesh.feedback.v1 import feedback_pb2 as _feedback_pb2
from google.api import annotations_pb2 as _annotations_pb2
from google.api import httpbody_pb2 as _httpbody_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Granularity(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    GRANULARITY_UNSPECIFIED: _ClassVar[Granularity]
    GRANULARITY_HOUR: _ClassVar[Granularity]
    GRANULARITY_DAY: _ClassVar[Granularity]
    GRANULARITY_WEEK: _ClassVar[Granularity]
    GRANULARITY_MONTH: _ClassVar[Granularity]
GRANULARITY_UNSPECIFIED: Granularity
GRANULARITY_HOUR: Granularity
GRANULARITY_DAY: Granularity
GRANULARITY_WEEK: Granularity
GRANULARITY_MONTH: Granularity

class GetRatingsAnalyticsRequest(_message.Message):
    __slots__ = ("start_time", "end_time", "feedback_type", "granularity", "time_zone", "agent_id", "execution_id", "chat_session_id", "period")
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    FEEDBACK_TYPE_FIELD_NUMBER: _ClassVar[int]
    GRANULARITY_FIELD_NUMBER: _ClassVar[int]
    TIME_ZONE_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    CHAT_SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    feedback_type: _feedback_pb2.FeedbackType
    granularity: Granularity
    time_zone: str
    agent_id: int
    execution_id: int
    chat_session_id: str
    period: str
    def __init__(self, start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., feedback_type: _Optional[_Union[_feedback_pb2.FeedbackType, str]] = ..., granularity: _Optional[_Union[Granularity, str]] = ..., time_zone: _Optional[str] = ..., agent_id: _Optional[int] = ..., execution_id: _Optional[int] = ..., chat_session_id: _Optional[str] = ..., period: _Optional[str] = ...) -> None: ...

class RatingsPoint(_message.Message):
    __slots__ = ("date", "count", "avg_rating", "rating_sum")
    DATE_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    AVG_RATING_FIELD_NUMBER: _ClassVar[int]
    RATING_SUM_FIELD_NUMBER: _ClassVar[int]
    date: str
    count: int
    avg_rating: float
    rating_sum: int
    def __init__(self, date: _Optional[str] = ..., count: _Optional[int] = ..., avg_rating: _Optional[float] = ..., rating_sum: _Optional[int] = ...) -> None: ...

class RatingCount(_message.Message):
    __slots__ = ("rating", "count")
    RATING_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    rating: int
    count: int
    def __init__(self, rating: _Optional[int] = ..., count: _Optional[int] = ...) -> None: ...

class Trend(_message.Message):
    __slots__ = ("previous_count", "previous_avg_rating", "count_change", "count_change_percent", "avg_rating_change")
    PREVIOUS_COUNT_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_AVG_RATING_FIELD_NUMBER: _ClassVar[int]
    COUNT_CHANGE_FIELD_NUMBER: _ClassVar[int]
    COUNT_CHANGE_PERCENT_FIELD_NUMBER: _ClassVar[int]
    AVG_RATING_CHANGE_FIELD_NUMBER: _ClassVar[int]
    previous_count: int
    previous_avg_rating: float
    count_change: int
    count_change_percent: float
    avg_rating_change: float
    def __init__(self, previous_count: _Optional[int] = ..., previous_avg_rating: _Optional[float] = ..., count_change: _Optional[int] = ..., count_change_percent: _Optional[float] = ..., avg_rating_change: _Optional[float] = ...) -> None: ...

class GetRatingsAnalyticsResponse(_message.Message):
    __slots__ = ("total_count", "avg_rating", "series", "distribution", "trend", "data_version")
    TOTAL_COUNT_FIELD_NUMBER: _ClassVar[int]
    AVG_RATING_FIELD_NUMBER: _ClassVar[int]
    SERIES_FIELD_NUMBER: _ClassVar[int]
    DISTRIBUTION_FIELD_NUMBER: _ClassVar[int]
    TREND_FIELD_NUMBER: _ClassVar[int]
    DATA_VERSION_FIELD_NUMBER: _ClassVar[int]
    total_count: int
    avg_rating: float
    series: _containers.RepeatedCompositeFieldContainer[RatingsPoint]
    distribution: _containers.RepeatedCompositeFieldContainer[RatingCount]
    trend: Trend
    data_version: int
    def __init__(self, total_count: _Optional[int] = ..., avg_rating: _Optional[float] = ..., series: _Optional[_Iterable[_Union[RatingsPoint, _Mapping]]] = ..., distribution: _Optional[_Iterable[_Union[RatingCount, _Mapping]]] = ..., trend: _Optional[_Union[Trend, _Mapping]] = ..., data_version: _Optional[int] = ...) -> None: ...

class GetSentimentAnalyticsRequest(_message.Message):
    __slots__ = ("start_time", "end_time", "feedback_type", "granularity", "time_zone", "agent_id", "execution_id", "chat_session_id", "top_n", "period")
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    FEEDBACK_TYPE_FIELD_NUMBER: _ClassVar[int]
    GRANULARITY_FIELD_NUMBER: _ClassVar[int]
    TIME_ZONE_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    CHAT_SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    TOP_N_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    feedback_type: _feedback_pb2.FeedbackType
    granularity: Granularity
    time_zone: str
    agent_id: int
    execution_id: int
    chat_session_id: str
    top_n: int
    period: str
    def __init__(self, start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., feedback_type: _Optional[_Union[_feedback_pb2.FeedbackType, str]] = ..., granularity: _Optional[_Union[Granularity, str]] = ..., time_zone: _Optional[str] = ..., agent_id: _Optional[int] = ..., execution_id: _Optional[int] = ..., chat_session_id: _Optional[str] = ..., top_n: _Optional[int] = ..., period: _Optional[str] = ...) -> None: ...

class SentimentCounts(_message.Message):
    __slots__ = ("positive", "neutral", "negative", "no_comment")
    POSITIVE_FIELD_NUMBER: _ClassVar[int]
    NEUTRAL_FIELD_NUMBER: _ClassVar[int]
    NEGATIVE_FIELD_NUMBER: _ClassVar[int]
    NO_COMMENT_FIELD_NUMBER: _ClassVar[int]
    positive: int
    neutral: int
    negative: int
    no_comment: int
    def __init__(self, positive: _Optional[int] = ..., neutral: _Optional[int] = ..., negative: _Optional[int] = ..., no_comment: _Optional[int] = ...) -> None: ...

class SentimentPoint(_message.Message):
    __slots__ = ("date", "positive", "neutral", "negative", "no_comment", "avg_sentiment_score")
    DATE_FIELD_NUMBER: _ClassVar[int]
    POSITIVE_FIELD_NUMBER: _ClassVar[int]
    NEUTRAL_FIELD_NUMBER: _ClassVar[int]
    NEGATIVE_FIELD_NUMBER: _ClassVar[int]
    NO_COMMENT_FIELD_NUMBER: _ClassVar[int]
    AVG_SENTIMENT_SCORE_FIELD_NUMBER: _ClassVar[int]
    date: str
    positive: int
    neutral: int
    negative: int
    no_comment: int
    avg_sentiment_score: float
    def __init__(self, date: _Optional[str] = ..., positive: _Optional[int] = ..., neutral: _Optional[int] = ..., negative: _Optional[int] = ..., no_comment: _Optional[int] = ..., avg_sentiment_score: _Optional[float] = ...) -> None: ...

class Theme(_message.Message):
    __slots__ = ("tag", "count", "avg_rating")
    TAG_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    AVG_RATING_FIELD_NUMBER: _ClassVar[int]
    tag: str
    count: int
    avg_rating: float
    def __init__(self, tag: _Optional[str] = ..., count: _Optional[int] = ..., avg_rating: _Optional[float] = ...) -> None: ...

class GetSentimentAnalyticsResponse(_message.Message):
    __slots__ = ("series", "totals", "avg_sentiment_score", "top_positive_themes", "top_negative_themes", "data_version")
    SERIES_FIELD_NUMBER: _ClassVar[int]
    TOTALS_FIELD_NUMBER: _ClassVar[int]
    AVG_SENTIMENT_SCORE_FIELD_NUMBER: _ClassVar[int]
    TOP_POSITIVE_THEMES_FIELD_NUMBER: _ClassVar[int]
    TOP_NEGATIVE_THEMES_FIELD_NUMBER: _ClassVar[int]
    DATA_VERSION_FIELD_NUMBER: _ClassVar[int]
    series: _containers.RepeatedCompositeFieldContainer[SentimentPoint]
    totals: SentimentCounts
    avg_sentiment_score: float
    top_positive_themes: _containers.RepeatedCompositeFieldContainer[Theme]
    top_negative_themes: _containers.RepeatedCompositeFieldContainer[Theme]
    data_version: int
    def __init__(self, series: _Optional[_Iterable[_Union[SentimentPoint, _Mapping]]] = ..., totals: _Optional[_Union[SentimentCounts, _Mapping]] = ..., avg_sentiment_score: _Optional[float] = ..., top_positive_themes: _Optional[_Iterable[_Union[Theme, _Mapping]]] = ..., top_negative_themes: _Optional[_Iterable[_Union[Theme, _Mapping]]] = ..., data_version: _Optional[int] = ...) -> None: ...

class GetUsageTrendsRequest(_message.Message):
    __slots__ = ("period", "time_zone", "feedback_type", "top_n", "end_time", "start_time", "granularity", "agent_id", "execution_id", "chat_session_id")
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    TIME_ZONE_FIELD_NUMBER: _ClassVar[int]
    FEEDBACK_TYPE_FIELD_NUMBER: _ClassVar[int]
    TOP_N_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    GRANULARITY_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    CHAT_SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    period: str
    time_zone: str
    feedback_type: _feedback_pb2.FeedbackType
    top_n: int
    end_time: _timestamp_pb2.Timestamp
    start_time: _timestamp_pb2.Timestamp
    granularity: Granularity
    agent_id: int
    execution_id: int
    chat_session_id: str
    def __init__(self, period: _Optional[str] = ..., time_zone: _Optional[str] = ..., feedback_type: _Optional[_Union[_feedback_pb2.FeedbackType, str]] = ..., top_n: _Optional[int] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., granularity: _Optional[_Union[Granularity, str]] = ..., agent_id: _Optional[int] = ..., execution_id: _Optional[int] = ..., chat_session_id: _Optional[str] = ...) -> None: ...

class UsagePoint(_message.Message):
    __slots__ = ("date", "submissions", "active_users")
    DATE_FIELD_NUMBER: _ClassVar[int]
    SUBMISSIONS_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_USERS_FIELD_NUMBER: _ClassVar[int]
    date: str
    submissions: int
    active_users: int
    def __init__(self, date: _Optional[str] = ..., submissions: _Optional[int] = ..., active_users: _Optional[int] = ...) -> None: ...

class TopTarget(_message.Message):
    __slots__ = ("id", "count", "avg_rating")
    ID_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    AVG_RATING_FIELD_NUMBER: _ClassVar[int]
    id: str
    count: int
    avg_rating: float
    def __init__(self, id: _Optional[str] = ..., count: _Optional[int] = ..., avg_rating: _Optional[float] = ...) -> None: ...

class GetUsageTrendsResponse(_message.Message):
    __slots__ = ("series", "top_agents", "top_executions", "total_submissions", "total_active_users", "data_version")
    SERIES_FIELD_NUMBER: _ClassVar[int]
    TOP_AGENTS_FIELD_NUMBER: _ClassVar[int]
    TOP_EXECUTIONS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SUBMISSIONS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_ACTIVE_USERS_FIELD_NUMBER: _ClassVar[int]
    DATA_VERSION_FIELD_NUMBER: _ClassVar[int]
    series: _containers.RepeatedCompositeFieldContainer[UsagePoint]
    top_agents: _containers.RepeatedCompositeFieldContainer[TopTarget]
    top_executions: _containers.RepeatedCompositeFieldContainer[TopTarget]
    total_submissions: int
    total_active_users: int
    data_version: int
    def __init__(self, series: _Optional[_Iterable[_Union[UsagePoint, _Mapping]]] = ..., top_agents: _Optional[_Iterable[_Union[TopTarget, _Mapping]]] = ..., top_executions: _Optional[_Iterable[_Union[TopTarget, _Mapping]]] = ..., total_submissions: _Optional[int] = ..., total_active_users: _Optional[int] = ..., data_version: _Optional[int] = ...) -> None: ...

class ExportAnalyticsRequest(_message.Message):
    __slots__ = ("view", "start_time", "end_time", "feedback_type", "granularity", "time_zone", "period", "agent_id", "execution_id", "chat_session_id")
    VIEW_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    FEEDBACK_TYPE_FIELD_NUMBER: _ClassVar[int]
    GRANULARITY_FIELD_NUMBER: _ClassVar[int]
    TIME_ZONE_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    CHAT_SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    view: str
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    feedback_type: _feedback_pb2.FeedbackType
    granularity: Granularity
    time_zone: str
    period: str
    agent_id: int
    execution_id: int
    chat_session_id: str
    def __init__(self, view: _Optional[str] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., feedback_type: _Optional[_Union[_feedback_pb2.FeedbackType, str]] = ..., granularity: _Optional[_Union[Granularity, str]] = ..., time_zone: _Optional[str] = ..., period: _Optional[str] = ..., agent_id: _Optional[int] = ..., execution_id: _Optional[int] = ..., chat_session_id: _Optional[str] = ...) -> None: ...

class WatchAnalyticsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class WatchAnalyticsResponse(_message.Message):
    __slots__ = ("data_version",)
    DATA_VERSION_FIELD_NUMBER: _ClassVar[int]
    data_version: int
    def __init__(self, data_version: _Optional[int] = ...) -> None: ...
