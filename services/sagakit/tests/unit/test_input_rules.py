"""Money and free text are checked as sent, and the JSON schema states the same rules."""

import re
from decimal import Decimal

import pytest
from pydantic import BaseModel, Field, ValidationError

from sagakit.api import MONEY_PATTERN, TEXT_PATTERN, Amount, FreeText


class Body(BaseModel):
    amount: Amount
    item: FreeText = Field(default="x", max_length=20)


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("120.5", "120.50"),
        ("120", "120.00"),
        ("0.01", "0.01"),
        ("0.5", "0.50"),
        ("9999999999.99", "9999999999.99"),
    ],
)
def test_valid_money_is_kept_exactly_with_two_decimals(sent: str, kept: str) -> None:
    amount = Body(amount=sent).amount
    assert amount == Decimal(kept) and str(amount) == kept


REFUSED_MONEY = [
    "1e30",
    "9" * 5000,
    "NaN",
    "Infinity",
    "-Infinity",
    "1e400",
    "10.999",  # never rounded to 11.00
    "0",
    "0.00",
    "-3",
    "+3",
    "01",
    "12345678901",  # 11 integer digits: more than NUMERIC(12,2) holds
    "1_000",
    "\u0661\u0662",  # Arabic-Indic digits
    "\uff11\uff12",  # fullwidth digits
    " 1",
    "1 ",
    "1.",
    ".5",
    "",
    5,
    1.5,
    True,
    None,
]


@pytest.mark.parametrize("sent", REFUSED_MONEY, ids=lambda sent: repr(sent)[:12])
def test_anything_else_is_refused_as_money(sent: object) -> None:
    with pytest.raises(ValidationError) as failure:
        Body(amount=sent)
    [error] = failure.value.errors()
    assert error["type"] == "money" and error["loc"] == ("amount",)


@pytest.mark.parametrize(
    "text",
    ["a\x00b", "\x1b[31mred", "a\rb", "a\nb", "a\tb", "\x9b31m", "a\u202eb", "\u2066x\u2069"],
    ids=repr,
)
def test_free_text_refuses_control_and_bidi_characters(text: str) -> None:
    with pytest.raises(ValidationError) as failure:
        Body(amount="1", item=text)
    assert failure.value.errors()[0]["type"] == "text"


def test_free_text_refuses_a_lone_surrogate_as_not_a_string() -> None:
    with pytest.raises(ValidationError) as failure:
        Body(amount="1", item="\ud800")
    assert failure.value.errors()[0]["type"] == "string_unicode"


def test_free_text_keeps_any_script_and_emoji() -> None:
    assert Body(amount="1", item="Übernachtung 部屋 😀").item == "Übernachtung 部屋 😀"


def test_the_json_schema_states_the_rules_as_standard_keywords() -> None:
    properties = Body.model_json_schema()["properties"]
    assert properties["amount"]["type"] == "string"  # not "number or string"
    assert properties["amount"]["pattern"] == MONEY_PATTERN
    assert properties["amount"]["maxLength"] == 13
    assert {key for key in properties["amount"] if key.startswith("x-")} == set()
    assert properties["item"]["pattern"] == TEXT_PATTERN
    assert properties["item"]["maxLength"] == 20


@pytest.mark.parametrize("sent", [s for s in REFUSED_MONEY if isinstance(s, str)], ids=repr)
def test_the_schema_pattern_refuses_what_the_service_refuses(sent: str) -> None:
    assert re.fullmatch(MONEY_PATTERN, sent) is None
