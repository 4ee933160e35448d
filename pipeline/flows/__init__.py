"""Workflows, one per module: fetch, extract, re-extract, consolidate, digests."""
