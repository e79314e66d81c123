"""What can stop a command, and the exit code each maps to."""

from __future__ import annotations

USAGE_EXIT = 2
FAILED_EXIT = 1


class DrctlError(Exception):
    """A problem the operator can act on; the message names it."""

    exit_code = FAILED_EXIT

    def __init__(self, message: str, *, state: str | None = None, next_steps: tuple[str, ...] = ()):
        super().__init__(message)
        self.state = state  # what things look like now, when it matters for the next move
        self.next_steps = next_steps  # exact commands to continue or roll back


class UsageError(DrctlError):
    """Bad arguments, stack or credentials: nothing was changed."""

    exit_code = USAGE_EXIT


class Refused(DrctlError):
    """A pre-check or the operator said no: nothing was changed."""


class OperationFailed(DrctlError):
    """Something failed after a change was started: the state may have moved."""
