"""The ``Idempotency-Key`` request header and the ``Idempotent-Replayed`` answer, shared by
every route that makes something a client may ask for twice (captures, documents, cases).

The key's form and the replay itself are :mod:`workflow.idempotency`; this is only how the
REST API carries them, so that the routes describe and answer them alike."""

from __future__ import annotations

from typing import Annotated

from fastapi import Header, Response

__all__ = ["IdempotencyKey", "answer_replayed"]

#: One key per intended request. Documented once, for every route that takes it.
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="One key per intended request (a UUID): a retry with the same key gets what "
        "the first request made, in its current state, with `Idempotent-Replayed: true`, "
        "instead of a second one; the same key with another request is refused "
        "(`idempotency_key_reused`)",
    ),
]


def answer_replayed(response: Response, replayed: bool) -> None:
    """Mark the answer to a retried request (``Idempotent-Replayed: true``)."""
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
