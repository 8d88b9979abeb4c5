from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SentimentLabel(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SENTIMENT_LABEL_UNSPECIFIED: _ClassVar[SentimentLabel]
    SENTIMENT_LABEL_POSITIVE: _ClassVar[SentimentLabel]
    SENTIMENT_LABEL_NEUTRAL: _ClassVar[SentimentLabel]
    SENTIMENT_LABEL_NEGATIVE: _ClassVar[SentimentLabel]
SENTIMENT_LABEL_UNSPECIFIED: SentimentLabel
SENTIMENT_LABEL_POSITIVE: SentimentLabel
SENTIMENT_LABEL_NEUTRAL: SentimentLabel
SENTIMENT_LABEL_NEGATIVE: SentimentLabel

class AnalyzeSentimentRequest(_message.Message):
    __slots__ = ("text",)
    TEXT_FIELD_NUMBER: _ClassVar[int]
    text: str
    def __init__(self, text: _Optional[str] = ...) -> None: ...

class AnalyzeSentimentResponse(_message.Message):
    __slots__ = ("label", "score", "confidence", "analyzer", "analyzer_version")
    LABEL_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    ANALYZER_FIELD_NUMBER: _ClassVar[int]
    ANALYZER_VERSION_FIELD_NUMBER: _ClassVar[int]
    label: SentimentLabel
    score: float
    confidence: float
    analyzer: str
    analyzer_version: str
    def __init__(self, label: _Optional[_Union[SentimentLabel, str]] = ..., score: _Optional[float] = ..., confidence: _Optional[float] = ..., analyzer: _Optional[str] = ..., analyzer_version: _Optional[str] = ...) -> None: ...

class BatchAnalyzeSentimentRequest(_message.Message):
    __slots__ = ("texts",)
    TEXTS_FIELD_NUMBER: _ClassVar[int]
    texts: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, texts: _Optional[_Iterable[str]] = ...) -> None: ...

class SentimentResult(_message.Message):
    __slots__ = ("label", "score", "confidence")
    LABEL_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    label: SentimentLabel
    score: float
    confidence: float
    def __init__(self, label: _Optional[_Union[SentimentLabel, str]] = ..., score: _Optional[float] = ..., confidence: _Optional[float] = ...) -> None: ...

class BatchAnalyzeSentimentResponse(_message.Message):
    __slots__ = ("results", "analyzer", "analyzer_version")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    ANALYZER_FIELD_NUMBER: _ClassVar[int]
    ANALYZER_VERSION_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[SentimentResult]
    analyzer: str
    analyzer_version: str
    def __init__(self, results: _Optional[_Iterable[_Union[SentimentResult, _Mapping]]] = ..., analyzer: _Optional[str] = ..., analyzer_version: _Optional[str] = ...) -> None: ...

class GetModelInfoRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetModelInfoResponse(_message.Message):
    __slots__ = ("analyzer", "analyzer_version", "description", "max_text_chars", "max_batch_size", "available_analyzers")
    ANALYZER_FIELD_NUMBER: _ClassVar[int]
    ANALYZER_VERSION_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    MAX_TEXT_CHARS_FIELD_NUMBER: _ClassVar[int]
    MAX_BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    AVAILABLE_ANALYZERS_FIELD_NUMBER: _ClassVar[int]
    analyzer: str
    analyzer_version: str
    description: str
    max_text_chars: int
    max_batch_size: int
    available_analyzers: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, analyzer: _Optional[str] = ..., analyzer_version: _Optional[str] = ..., description: _Optional[str] = ..., max_text_chars: _Optional[int] = ..., max_batch_size: _Optional[int] = ..., available_analyzers: _Optional[_Iterable[str]] = ...) -> None: ...
