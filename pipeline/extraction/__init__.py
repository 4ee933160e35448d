"""Extraction: from article text to tagged elements, entities and policy events, stage by stage."""

from pipeline.extraction.extractor import MAX_READ_CHARS, Extractor, standard_extractor

__all__ = ["MAX_READ_CHARS", "Extractor", "standard_extractor"]
