"""Alembic migrations of the newstrack schema."""
