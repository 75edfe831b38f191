"""Idempotent commands: a key the client sends, the answer stored with the state change.

A client that retries a command (its request timed out, the connection broke) sends the
same `Idempotency-Key` again; the unit of work stores the key and the answer in the
transaction of the state change, so the retry gets the first answer back instead of
doing the command twice. This module holds the plain parts the unit of work sees;
`sagakit.idempotency_api` reads the header, and `sagakit.postgres` stores the rows.
docs/api.md, "Idempotency-Key", tells the client's side.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"


@dataclass(frozen=True)
class Answer:
    """What the first request with a key answered: status, JSON body, headers."""

    status: int
    body: Any
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Claim:
    """One command under a key: who sent it where (`scope`), and what it was (`fingerprint`).

    `kind` is the aggregate the command answers with; `render` turns it into the JSON
    body (and `headers` into the response headers) when the transaction commits.
    """

    scope: str
    key: str
    fingerprint: str
    kind: type
    render: Callable[[Any], Any]
    status: int = 200
    headers: Callable[[Any], Mapping[str, str]] | None = None

    def answer(self, seen: Sequence[object]) -> Answer | None:
        """The answer, rendered from the first aggregate of `kind` the command touched."""
        for aggregate in seen:
            if isinstance(aggregate, self.kind):
                headers = self.headers(aggregate) if self.headers is not None else {}
                return Answer(self.status, self.render(aggregate), dict(headers))
        return None


class Replayed(Exception):
    """The key was used before with the same request: answer what was answered then."""

    def __init__(self, answer: Answer) -> None:
        super().__init__(f"replay of a {answer.status} answer")
        self.answer = answer


class KeyReused(Exception):
    """The key was used before with a different request (a different body or path)."""
