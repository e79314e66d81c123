"""What every command works with: the stack, the AWS clients, the clock and the output."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from drctl.aws import Clients
from drctl.stack import Stack
from drctl.waiters import Clock


@dataclass(frozen=True)
class Context:
    stack: Stack
    clients: Clients
    clock: Clock
    say: Callable[[str], None]  # one line of progress for the operator
    # The region asked first for STS and global state: --region, else the command's target (a failover's
    # survivor). Never the profile's default region, which may be the lost one.
    prefer: str | None = None
