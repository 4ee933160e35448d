"""SQLAlchemy models and the domain vocabulary of newstrack."""

from models.tables import (
    Article,
    Base,
    ElementMention,
    EntityMention,
    Event,
    EventElement,
    EventTarget,
    Fetch,
    Mention,
    Quantity,
    Source,
)

__all__ = [
    "Article",
    "Base",
    "ElementMention",
    "EntityMention",
    "Event",
    "EventElement",
    "EventTarget",
    "Fetch",
    "Mention",
    "Quantity",
    "Source",
]
