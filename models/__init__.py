"""SQLAlchemy models and the domain vocabulary of newstrack."""

from models.tables import (
    Article,
    ArticleBand,
    Base,
    ElementMention,
    EntityMention,
    Event,
    EventElement,
    EventTarget,
    Fetch,
    HttpValidator,
    JobRun,
    MeasurePeriod,
    Mention,
    MentionElement,
    Quantity,
    Source,
)

__all__ = [
    "Article",
    "ArticleBand",
    "Base",
    "ElementMention",
    "EntityMention",
    "Event",
    "EventElement",
    "EventTarget",
    "Fetch",
    "HttpValidator",
    "JobRun",
    "MeasurePeriod",
    "Mention",
    "MentionElement",
    "Quantity",
    "Source",
]
