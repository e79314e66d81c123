"""Why a POST /payments request is refused: violations, each naming a field, with a stable code.

Kept apart from the pydantic model (payment_request) so that the handler can map rejections to
responses without importing pydantic at cold start.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Violation:
    field: str
    code: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "code": self.code, "message": self.message}


class RequestRejected(Exception):
    """The request is invalid; nothing was written."""

    def __init__(self, violations: list[Violation]):
        super().__init__("; ".join(f"{v.field}: {v.message}" for v in violations))
        self.violations = violations
