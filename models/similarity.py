"""Near-duplicate texts: MinHash signatures over word shingles, banded so SQL can find candidates."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import cached_property

import numpy as np

SHINGLE_WORDS = 5  # a shingle is five consecutive words
PERMUTATIONS = 64
BANDS = 16  # 16 bands of 4 rows: texts with Jaccard 0.7 share a band with probability 0.99
ROWS = PERMUTATIONS // BANDS
MIN_WORDS = 50  # below this, two texts sharing most words is no sign of a shared origin
NEAR_DUPLICATE = 0.7  # estimated Jaccard similarity of shingle sets at and above which texts match
_PRIME = (1 << 61) - 1
_RANDOM = np.random.default_rng(20250404)
_A = _RANDOM.integers(1, 1 << 31, size=PERMUTATIONS, dtype=np.uint64)
_B = _RANDOM.integers(0, 1 << 31, size=PERMUTATIONS, dtype=np.uint64)
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Fingerprint:
    """A text's MinHash signature: PERMUTATIONS 32-bit minima."""

    signature: bytes

    @cached_property
    def bands(self) -> list[int]:
        """One signed 64-bit bucket per band; texts sharing any bucket are candidates."""
        width = ROWS * 4
        return [
            int.from_bytes(
                hashlib.blake2b(
                    bytes([band]) + self.signature[band * width : (band + 1) * width],
                    digest_size=8,
                ).digest(),
                "big",
                signed=True,
            )
            for band in range(BANDS)
        ]

    def similarity(self, other: Fingerprint) -> float:
        """Estimated Jaccard similarity of the two texts' shingle sets."""
        mine = np.frombuffer(self.signature, dtype="<u4")
        theirs = np.frombuffer(other.signature, dtype="<u4")
        return float(np.count_nonzero(mine == theirs)) / PERMUTATIONS


def fingerprint(text: str) -> Fingerprint | None:
    """The MinHash fingerprint of a text, or None when it is too short to compare."""
    words = _WORD.findall(text.lower())
    if len(words) < MIN_WORDS:
        return None
    shingles = {
        " ".join(words[i : i + SHINGLE_WORDS]) for i in range(len(words) - SHINGLE_WORDS + 1)
    }
    hashes = np.fromiter(
        (
            int.from_bytes(hashlib.blake2b(s.encode("utf-8"), digest_size=4).digest(), "big")
            for s in shingles
        ),
        dtype=np.uint64,
        count=len(shingles),
    )
    # (a * x + b) mod p stays below 2**63 because a, b < 2**31 and x < 2**32.
    permuted = (np.outer(hashes, _A) + _B) % np.uint64(_PRIME) & np.uint64(0xFFFFFFFF)
    return Fingerprint(permuted.min(axis=0).astype("<u4").tobytes())
