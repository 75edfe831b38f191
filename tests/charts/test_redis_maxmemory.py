"""The redis chart sets maxmemory below the container's memory limit and never evicts.

A Redis without maxmemory grows until the kernel kills it (the streams' entries with
it); with an eviction policy it would drop whole streams, silently losing their events.
So the chart renders maxmemory from the memory limit and `maxmemory-policy noeviction`:
a full Redis refuses XADD, and the services' outboxes keep the events and retry.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from chartkit import own_servers, quantity_bytes

PERCENT = 70  # the redis chart's maxmemoryPercent


def conf(render: Any) -> str:
    return str(render.get("ConfigMap", "saga-redis")["data"]["redis.conf"])


def setting(render: Any, name: str) -> str | None:
    found = re.findall(rf"^{name} (.+)$", conf(render), re.MULTILINE)
    assert len(found) <= 1, found
    return found[0] if found else None


def memory_limit(render: Any) -> int:
    (container,) = render.get("StatefulSet", "saga-redis")["spec"]["template"]["spec"]["containers"]
    return quantity_bytes(container["resources"]["limits"]["memory"])


@pytest.mark.parametrize("own_redis", own_servers("redis"))
def test_maxmemory_is_a_share_of_the_memory_limit(own_redis: str, rendered: dict[str, Any]) -> None:
    render = rendered[own_redis]
    assert setting(render, "maxmemory") == str(memory_limit(render) * PERCENT // 100)
    assert setting(render, "maxmemory-policy") == "noeviction"


def test_kind_gets_seventy_percent_of_its_192mi(rendered: dict[str, Any]) -> None:
    assert setting(rendered["kind"], "maxmemory") == "140928614"  # 192 x 2**20 x 0.7


@pytest.mark.parametrize(
    ("limit", "expected"),
    [
        ("1Gi", "751619276"),
        ("1G", "700000000"),
        ("1.5Gi", "1127428915"),
        ("268435456", "187904819"),
    ],
)
def test_every_quantity_form_is_read(render_values: Any, limit: str, expected: str) -> None:
    render = render_values({"redis": {"resources": {"limits": {"memory": limit}}}})
    assert setting(render, "maxmemory") == expected


def test_an_explicit_maxmemory_and_percentage_win(render_values: Any) -> None:
    assert setting(render_values({"redis": {"maxmemory": "100mb"}}), "maxmemory") == "100mb"
    render = render_values({"redis": {"maxmemoryPercent": 50}})
    assert setting(render, "maxmemory") == str(memory_limit(render) // 2)


def test_without_a_memory_limit_there_is_no_maxmemory(render_values: Any) -> None:
    render = render_values({"redis": {"resources": {"limits": {"memory": None}}}})
    assert setting(render, "maxmemory") is None
    assert setting(render, "maxmemory-policy") == "noeviction"


def test_the_policy_can_be_overridden(render_values: Any) -> None:
    render = render_values({"redis": {"maxmemoryPolicy": "allkeys-lru"}})
    assert setting(render, "maxmemory-policy") == "allkeys-lru"


def test_an_unreadable_limit_fails_saying_what_to_set(render_values: Any) -> None:
    with pytest.raises(Exception, match="set maxmemory explicitly"):
        render_values({"redis": {"resources": {"limits": {"memory": "1e9"}}}})


@pytest.mark.parametrize(
    ("values", "complaint"),
    [
        ({"redis": {"maxmemoryPolicy": "evict-streams"}}, "maxmemoryPolicy"),
        ({"redis": {"maxmemoryPercent": 100}}, "maxmemoryPercent"),
        ({"redis": {"maxmemory": "100 MB"}}, "maxmemory"),
    ],
)
def test_the_schema_refuses_bad_memory_values(
    render_values: Any, values: dict[str, Any], complaint: str
) -> None:
    with pytest.raises(ValueError, match="schema") as error:
        render_values(values)
    assert complaint in str(error.value)


def test_a_memory_change_restarts_redis(render_values: Any) -> None:
    def checksum(render: Any) -> str:
        template = render.get("StatefulSet", "saga-redis")["spec"]["template"]
        return str(template["metadata"]["annotations"]["checksum/config"])

    before = render_values({})
    after = render_values({"redis": {"resources": {"limits": {"memory": "2Gi"}}}})
    assert checksum(before) != checksum(after)
