"""Hostile input gets a 4xx naming the field, never a 500, and is never echoed back.

Each case was a reproduction against the running services (issue 9): 500s from
decimal.InvalidOperation, from a lone surrogate while encoding the 422, from psycopg on a
NUL or an OFFSET beyond bigint; silent rounding of "10.999"; "1_000" and Arabic-Indic
digits taken as amounts; duplicate JSON keys keeping the last value; terminal escapes
stored as an item.
"""

import json
import uuid
from collections.abc import AsyncIterator

import pytest

VALID = {"customer_id": "mallory", "item": "Room 7", "amount": "120.00"}
SECRET = "s3cr3t-value-never-echoed"


def raw(body: str) -> dict[str, object]:
    """Keyword arguments of a POST whose JSON text is sent exactly as written."""
    return {"content": body.encode(), "headers": {"content-type": "application/json"}}


def with_field(name: str, value_json: str) -> str:
    fields = {key: json.dumps(value) for key, value in VALID.items()}
    fields[name] = value_json
    return "{" + ",".join(f'"{key}":{value}' for key, value in fields.items()) + "}"


def assert_refused(response, status: int, *loc: object) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    if loc:
        assert list(loc) in [error["loc"] for error in body["detail"]], body
    for error in body["detail"] if isinstance(body["detail"], list) else []:
        assert set(error) == {"type", "loc", "msg"}, error  # no input, no ctx


AMOUNTS = [
    '"1e30"',
    '"' + "9" * 5000 + '"',
    "9" * 4000,  # a JSON number with 4,000 digits
    '"NaN"',
    '"Infinity"',
    '"1e400"',
    "1e400",
    '"10.999"',
    '"\u0661\u0662"',
    '"1_000"',
    '"0"',
    '"-3"',
    "120.5",  # a JSON number: money is a decimal string
]


@pytest.mark.parametrize("amount", AMOUNTS, ids=lambda text: text[:12])
async def test_malformed_amounts_are_a_422_on_amount(client, amount: str) -> None:
    response = await client.post("/bookings", **raw(with_field("amount", amount)))
    assert_refused(response, 422, "body", "amount")


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
async def test_nan_and_infinity_literals_are_not_json(client, literal: str) -> None:
    response = await client.post("/bookings", **raw(with_field("amount", literal)))
    assert_refused(response, 422, "body")


ITEMS = [
    r'"\ud800"',  # a lone surrogate: once a 500 while encoding the 422 that echoed it
    r'"a\u0000b"',  # NUL: once a psycopg DataError (500)
    r'"\u001b[31mred\u001b[0m"',
    r'"\u009b31m"',
    r'"a\u202egnp.exe"',
    r'"\u2066x\u2069"',
    r'"line\r\nforged"',
    r'"tab\there"',
    r'"\u2028"',
    '""',
    json.dumps("x" * 201),
]


@pytest.mark.parametrize("item", ITEMS, ids=lambda text: text[:14])
async def test_unprintable_or_oversized_items_are_a_422_on_item(client, item: str) -> None:
    response = await client.post("/bookings", **raw(with_field("item", item)))
    assert_refused(response, 422, "body", "item")


async def test_any_script_and_emoji_are_a_valid_item(client) -> None:
    body = {**VALID, "item": "Übernachtung 部屋 غرفة 😀👨\u200d👩"}
    created = await client.post("/bookings", json=body)
    assert created.status_code == 201, created.text
    assert created.json()["item"] == body["item"]


async def test_a_duplicate_key_is_a_422_naming_it(client) -> None:
    text = '{"customer_id":"a","item":"R","amount":"1.00","amount":"999.00"}'
    response = await client.post("/bookings", **raw(text))
    assert_refused(response, 422, "body", "amount")
    assert response.json()["detail"][0]["type"] == "duplicate_key"


async def test_a_422_never_echoes_what_was_sent(client) -> None:
    body = {**VALID, "amount": SECRET, "item": f"\x1b{SECRET}", "extra": SECRET}
    response = await client.post("/bookings", json=body)
    assert response.status_code == 422
    assert SECRET not in response.text
    assert {tuple(error["loc"]) for error in response.json()["detail"]} == {
        ("body", "amount"),
        ("body", "item"),
        ("body", "extra"),
    }


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("offset=9223372036854775808", "offset"),
        ("offset=-1", "offset"),
        ("limit=99999999999999999999999", "limit"),
        ("limit=0", "limit"),
        ("customer_id=%1b%5b31m", "customer_id"),
    ],
)
async def test_out_of_range_paging_is_a_422(client, query: str, field: str) -> None:
    assert_refused(await client.get(f"/bookings?{query}"), 422, "query", field)


@pytest.mark.parametrize("wait", ["nan", "inf", "-1", "31", "1e400"])
async def test_a_wait_that_is_no_number_of_seconds_is_a_422(client, wait: str) -> None:
    response = await client.get(f"/bookings/{uuid.uuid4()}?wait_for=reserved&wait={wait}")
    assert_refused(response, 422, "query", "wait")


async def test_a_body_over_64_kib_is_a_413_declared_or_streamed(client) -> None:
    big = json.dumps({**VALID, "item": "x" * 70_000}).encode()
    declared = await client.post("/bookings", content=big, headers=raw("")["headers"])
    assert declared.status_code == 413
    assert "larger than 65536 bytes" in declared.json()["detail"]

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it comes
        for start in range(0, len(big), 8192):
            yield big[start : start + 8192]

    streamed = await client.post("/bookings", content=chunks(), headers=raw("")["headers"])
    assert streamed.status_code == 413
    assert "content-length" not in streamed.request.headers
    assert "larger than 65536 bytes" in streamed.json()["detail"]
    at_the_cap = json.dumps({**VALID, "item": "x" * 200}).encode().ljust(65536)
    assert len(at_the_cap) == 65536  # trailing spaces are valid JSON
    accepted = await client.post("/bookings", content=at_the_cap, headers=raw("")["headers"])
    assert accepted.status_code == 201, accepted.text


async def test_a_long_url_is_a_414_and_large_headers_a_431(client) -> None:
    long_url = await client.get("/bookings?customer_id=" + "a" * 5000)
    assert long_url.status_code == 414
    assert "URL" in long_url.json()["detail"]
    large = await client.get("/bookings", headers={f"x-h{n}": "v" * 1000 for n in range(20)})
    assert large.status_code == 431
    assert (await client.get("/bookings", headers={"x-ok": "v" * 1000})).status_code == 200


@pytest.mark.parametrize(
    "body",
    [with_field("amount", "9" * 5000).encode(), b'{"item": "\xff\xfe"}'],
    ids=["digits", "utf8"],
)
async def test_a_body_the_json_parser_cannot_read_is_a_400(client, body: bytes) -> None:
    # 5,000 digits exceed Python's int conversion limit; bytes that are not UTF-8.
    response = await client.post("/bookings", content=body, headers=raw("")["headers"])
    assert response.status_code == 400
    assert response.json() == {"detail": "There was an error parsing the body"}
