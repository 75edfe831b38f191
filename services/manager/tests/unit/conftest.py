"""In-memory fakes for the manager handlers."""

from __future__ import annotations

import uuid
from datetime import datetime

import pytest

from manager.domain.model import Approval
from manager.service_layer.unit_of_work import (
    AbstractApprovalRepository,
    ApprovalFilter,
    ManagerUnitOfWork,
)
from sagakit.testing import FakeUnitOfWork


class FakeApprovalRepository(AbstractApprovalRepository):
    def __init__(self, uow: FakeUnitOfWork) -> None:
        self.rows: dict[uuid.UUID, Approval] = {}
        self._uow = uow

    async def add(self, approval: Approval) -> bool:
        if any(row.booking_id == approval.booking_id for row in self.rows.values()):
            approval.events.clear()
            return False
        self.rows[approval.booking_id] = approval
        self._uow.track(approval)
        return True

    async def get(self, booking_id: uuid.UUID, *, for_update: bool = False) -> Approval | None:
        approval = self.rows.get(booking_id)
        if approval is not None:
            self._uow.track(approval)
        return approval

    async def save(self, approval: Approval) -> None:
        self.rows[approval.booking_id] = approval

    async def due(self, now: datetime, limit: int) -> list[Approval]:
        due = [a for a in self.rows.values() if a.is_due(now)][:limit]
        for approval in due:
            self._uow.track(approval)
        return due

    async def find(
        self, where: ApprovalFilter, limit: int, offset: int
    ) -> tuple[list[Approval], int]:
        found = [
            a
            for a in self.rows.values()
            if where.status in (None, a.status) and where.customer_id in (None, a.customer_id)
        ]
        found.sort(key=lambda a: a.created_at, reverse=True)
        return found[offset : offset + limit], len(found)


class FakeManagerUnitOfWork(FakeUnitOfWork, ManagerUnitOfWork):
    def __init__(self) -> None:
        super().__init__("manager")
        self.approvals = FakeApprovalRepository(self)


@pytest.fixture
def uow() -> FakeManagerUnitOfWork:
    return FakeManagerUnitOfWork()
