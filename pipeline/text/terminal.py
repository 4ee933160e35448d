"""Text made safe to print: control characters shown as escapes, never sent to the terminal."""

from __future__ import annotations

import re

# C0 controls, DEL, C1 controls (U+009B is a CSI on its own), and the bidirectional overrides and
# isolates that make printed text read other than it is.
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def printable(value: str, keep: str = "") -> str:
    """`value` with each control character not in `keep` written as an escape (ESC as \\x1b)."""
    return CONTROL.sub(lambda match: _escape(match.group(), keep), value)


def _escape(character: str, keep: str) -> str:
    if character in keep:
        return character
    code = ord(character)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
