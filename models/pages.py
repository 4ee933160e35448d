"""How raw pages are kept: zstd frames, and the zlib streams of earlier versions."""

from __future__ import annotations

import zlib

from zstandard import FRAME_HEADER, ZstdCompressor, ZstdDecompressor

PAGE_LEVEL = (
    3  # zstd's default: news HTML shrinks to about a quarter, 9 times as fast as zlib at level 6
)


def compress_page(body: bytes) -> bytes:
    """A raw page as kept: a zstd frame, which records the page's size."""
    return ZstdCompressor(level=PAGE_LEVEL).compress(body)


def decompress_page(stored: bytes) -> bytes:
    """The raw page as fetched: a zstd frame, or zlib for pages stored by earlier versions."""
    if stored.startswith(FRAME_HEADER):
        return ZstdDecompressor().decompress(stored)
    return zlib.decompress(stored)
