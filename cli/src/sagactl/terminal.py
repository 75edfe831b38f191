"""What the services (and Redis) say, made safe to print on an operator's terminal.

A booking's item, a rejection reason or a dead letter's error is text someone else
wrote. Printed as it is, an ESC sequence could recolour or clear the screen, retitle the
window or hide a line; CR/LF could forge lines; bidirectional controls (U+202E ...) could
reorder what the reader sees; and rich would read `[...]` as its own markup. The APIs
refuse such text now, but rows written before, Redis entries and error pages are printed
too: everything that came from outside goes through `plain` or `markup` first.
"""

from __future__ import annotations

import unicodedata

from rich.markup import escape

# Controls (C0, DEL, C1), format characters (bidi controls, zero-width ones, BOM),
# surrogates, and the line and paragraph separators.
UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def plain(value: object) -> str:
    """`value` as text, each unsafe character shown as an escape: `\\x1b`, `\\u202e`."""
    text = str(value)
    return "".join(_escaped(char) for char in text)


def markup(value: object) -> str:
    """`plain(value)` with rich markup escaped too: for strings rich parses (table cells ...)."""
    return escape(plain(value))


def _escaped(char: str) -> str:
    if unicodedata.category(char) not in UNSAFE_CATEGORIES:
        return char
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"
