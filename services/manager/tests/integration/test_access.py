"""Who may call what (sagakit.access.RULES): approvals are the staff's."""

import pytest

from sagakit.access import matrix
from sagakit.testauth import assert_decision


@pytest.mark.parametrize(("route", "role", "allowed"), matrix("manager"))
async def test_the_access_table_decides_who_may_call_each_route(
    call_as, route: str, role: str | None, allowed: bool
) -> None:
    assert_decision(await call_as(route, role), role, allowed)


async def test_an_admin_reads_approvals_but_only_a_manager_decides(client_as, pending) -> None:
    booking_id = await pending()
    admin = client_as("ops", "admin")
    assert (await admin.get(f"/approvals/{booking_id}")).status_code == 200
    refused = await admin.post(f"/approvals/{booking_id}/approve")
    assert refused.status_code == 403
    assert refused.json() == {
        "detail": "POST /approvals/{booking_id}/approve needs one of the roles: manager"
    }
    assert (await admin.get(f"/approvals/{booking_id}")).json()["status"] == "pending"
    decided = await client_as("boss", "manager").post(f"/approvals/{booking_id}/approve")
    assert decided.json()["status"] == "approved"
