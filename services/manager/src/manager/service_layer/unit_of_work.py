"""The ports the manager handlers need: a repository inside a unit of work."""

from __future__ import annotations

import abc
import uuid
from dataclasses import dataclass
from datetime import datetime

from manager.domain.model import Approval, ApprovalStatus
from sagakit.uow import AbstractUnitOfWork


@dataclass(frozen=True)
class ApprovalFilter:
    """Which approvals a list shows."""

    status: ApprovalStatus | None = None
    customer_id: str | None = None


class AbstractApprovalRepository(abc.ABC):
    """Approvals by booking id; `for_update` locks the row until the transaction ends."""

    @abc.abstractmethod
    async def add(self, approval: Approval) -> bool:
        """Store a new approval, unless its booking has one already: False then (nothing
        stored, the new approval's events dropped)."""

    @abc.abstractmethod
    async def get(self, booking_id: uuid.UUID, *, for_update: bool = False) -> Approval | None: ...

    @abc.abstractmethod
    async def save(self, approval: Approval) -> None: ...

    @abc.abstractmethod
    async def due(self, now: datetime, limit: int) -> list[Approval]:
        """Up to `limit` approvals pending past their deadline, locked; others skip them."""

    @abc.abstractmethod
    async def find(
        self, where: ApprovalFilter, limit: int, offset: int
    ) -> tuple[list[Approval], int]: ...


class ManagerUnitOfWork(AbstractUnitOfWork):
    """A transaction over the manager database."""

    approvals: AbstractApprovalRepository
