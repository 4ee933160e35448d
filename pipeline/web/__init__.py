"""The board: measures, events, articles and sources in a browser (`newstrack serve`)."""

from pipeline.web.app import create_app

__all__ = ["create_app"]
