"""Polling with a deadline and progress lines, on an injectable clock (tests never sleep)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol, TypeVar

from drctl.aws import Unreachable
from drctl.errors import OperationFailed

T = TypeVar("T")
POLL_SECONDS = 10.0


class Clock(Protocol):
    def monotonic(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class WaitTimeout(OperationFailed):
    """The state did not arrive in time; `state` holds the last one seen."""


def wait_for(
    what: str,
    read: Callable[[], T],
    done: Callable[[T], bool],
    describe: Callable[[T], str],
    *,
    timeout: float,
    clock: Clock,
    say: Callable[[str], None],
    interval: float = POLL_SECONDS,
) -> T:
    """Reads until `done`, printing the state each poll; raises WaitTimeout with the last state.

    A read that fails (throttling, a region blip) is shown and retried: during a switchover the
    API itself may answer errors for a while, and giving up on the first one would leave the
    operator with less information than waiting does.
    """
    start = clock.monotonic()
    seen = "nothing read yet"
    while True:
        try:
            state = read()
        except Unreachable as error:
            seen = f"could not read the state: {error}"
        else:
            seen = describe(state)
            if done(state):
                return state
        elapsed = clock.monotonic() - start
        if elapsed >= timeout:
            raise WaitTimeout(f"timed out after {elapsed:.0f} s waiting for {what}", state=seen)
        say(f"  … {elapsed:4.0f} s  waiting for {what}: {seen}")
        clock.sleep(min(interval, timeout - elapsed))
