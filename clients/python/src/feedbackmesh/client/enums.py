"""The API's enums as Python enums (``FeedbackType.AGENT`` for ``FEEDBACK_TYPE_AGENT``).

They are ``IntEnum`` s with the proto numbers, so they go into request messages as they are
and compare equal to the ints that response messages carry; a test checks that they list
exactly the proto's values.
"""

from __future__ import annotations

import enum


class FeedbackType(enum.IntEnum):
    """What a feedback is about."""

    UNSPECIFIED = 0
    EXECUTION = 1
    AGENT = 2
    CHAT = 3
    GENERAL = 4


class SentimentLabel(enum.IntEnum):
    UNSPECIFIED = 0
    POSITIVE = 1
    NEUTRAL = 2
    NEGATIVE = 3


class SentimentStatus(enum.IntEnum):
    UNSPECIFIED = 0
    NO_COMMENT = 1
    PENDING = 2
    SCORED = 3


class Granularity(enum.IntEnum):
    """Bucket size of an analytics series (UNSPECIFIED is treated as DAY)."""

    UNSPECIFIED = 0
    HOUR = 1
    DAY = 2
    WEEK = 3
    MONTH = 4


class BatchItemStatus(enum.IntEnum):
    """The outcome of one item of a batch submission."""

    UNSPECIFIED = 0
    CREATED = 1
    DUPLICATE = 2
    INVALID = 3
    CONFLICT = 4
