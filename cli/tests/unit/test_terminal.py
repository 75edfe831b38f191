"""What sagactl prints from the services cannot drive the operator's terminal."""

import io

import pytest
from rich.console import Console

from sagactl.render import describe, status_table, timeline_view
from sagactl.terminal import markup, plain

# ANSI colour and "clear screen", an OSC window title, a CSI in its C1 form, CR/LF line
# forging, bidi overrides and isolates, zero-width and line-separator characters, and
# rich's own markup.
HOSTILE = (
    "\x1b[31mred\x1b[2J \x1b]0;owned\x07 \x9b31m \r\nforged: ok "
    "\u202egnp.exe\u202c \u2066x\u2069 \u200b \u2028 [bold red]loud[/] [link=http://x]y[/link]"
)
CONTROL_AND_BIDI = [chr(c) for c in (*range(0x20), *range(0x7F, 0xA0))] + [
    "\u061c",
    "\u200e",
    "\u200f",
    *map(chr, range(0x202A, 0x202F)),
    *map(chr, range(0x2066, 0x206A)),
    "\u2028",
    "\u2029",
    "\ufeff",
]


def rendered(renderable: object) -> str:
    """What a real terminal would receive (colours off so that every ESC is suspect)."""
    out = io.StringIO()
    Console(file=out, width=400, color_system=None, force_terminal=True).print(renderable)
    return out.getvalue()


def assert_inert(text: str) -> None:
    leaked = sorted({f"U+{ord(c):04X}" for c in text if c in CONTROL_AND_BIDI and c != "\n"})
    assert leaked == [], f"unsafe characters reached the terminal: {leaked}"


@pytest.mark.parametrize("char", CONTROL_AND_BIDI, ids=lambda c: f"U+{ord(c):04X}")
def test_plain_shows_every_control_and_bidi_character_as_an_escape(char: str) -> None:
    shown = plain(f"a{char}b")
    assert shown.startswith("a\\") and shown.endswith("b")
    assert char not in shown


def test_plain_keeps_ordinary_text_of_any_script() -> None:
    text = "Zimmer 7, Übernachtung: 120 € — 部屋 — غرفة 😀"
    assert plain(text) == text


def test_markup_escapes_rich_markup_too() -> None:
    assert markup("[bold]x[/]") == "\\[bold]x\\[/]"
    assert rendered(markup("[bold red]loud[/]")).strip() == "[bold red]loud[/]"


def test_a_hostile_booking_reason_is_printed_inert_in_the_status_table() -> None:
    snapshot = {
        "booking": {"status": "rejected", "reason": HOSTILE},
        "manager": {"status": HOSTILE},
        "billing": {"status": "failed", "amount": HOSTILE},
        "payment": "unreachable: " + HOSTILE,
        "invoice": None,
    }
    out = rendered(status_table("b-1", snapshot))
    assert_inert(out)
    assert "\\x1b[31mred" in out and "\\u202egnp.exe" in out
    assert "[bold red]loud[/]" in out  # shown as text, not applied


def test_describe_output_is_safe_to_embed_in_markup() -> None:
    line = describe("booking", {"status": "rejected", "reason": HOSTILE})
    out = rendered(f"[cyan]booking[/] {line}")
    assert_inert(out)
    assert "[link=http://x]y[/link]" in out


def test_a_hostile_timeline_is_printed_inert() -> None:
    step = {
        "event_type": HOSTILE,
        "producer": HOSTILE,
        "occurred_at": "2026-11-26T12:00:00Z",
        "since_previous_ms": 1.0,
        "trace_id": HOSTILE,
    }
    timeline = {
        "status": HOSTILE,
        "finished": False,
        "trace_id": HOSTILE,
        "duration_ms": 1.0,
        "steps": [step],
        "expected_next": {"event_types": [HOSTILE], "producer": HOSTILE, "note": HOSTILE},
    }
    assert_inert(rendered(timeline_view("b-1", timeline)))
    assert_inert(rendered(timeline_view("b-1", "unavailable: " + HOSTILE)))


def test_records_printed_whole_are_shown_as_python_literals() -> None:
    # `sagactl book`, `credit`, `approve` print the service's JSON answer as a dict.
    assert_inert(rendered({"item": HOSTILE, "reason": HOSTILE}))
