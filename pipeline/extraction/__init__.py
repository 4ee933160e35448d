"""Extraction: from article text to tagged elements, entities and policy events."""
