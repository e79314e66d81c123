"""boto3 clients per service and region, and reads that survive a lost region.

During a regional outage every call to that region hangs until its connect timeout. Clients
remembers a region that failed to answer and skips it for DOWN_MEMO_SECONDS, so `status` reports
it once instead of timing out on every call; a wait that polls for minutes asks it again after
that, so a short network blip does not blind the rest of a switchover.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import boto3
from botocore.client import BaseClient
from botocore.config import Config
from botocore.exceptions import (
    ClientError,
    ConfigNotFound,
    ConfigParseError,
    CredentialRetrievalError,
    HTTPClientError,
    InvalidConfigError,
    LoginError,
    MetadataRetrievalError,
    NoAuthTokenError,
    NoCredentialsError,
    PartialCredentialsError,
    ProfileNotFound,
    RefreshWithMFAUnsupportedError,
    SSOError,
    TokenRetrievalError,
    UnknownCredentialError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError

from drctl.errors import UsageError

T = TypeVar("T")
# Only tests point drctl elsewhere than AWS (moto server).
ENDPOINT_ENV = "DRCTL_ENDPOINT_URL"
# Fail fast on a dead region; standard retries still absorb throttling and transient errors.
DEFAULT_CONFIG = Config(connect_timeout=3, read_timeout=30, retries={"mode": "standard", "max_attempts": 3})
# Route 53 is a global service served through us-east-1; its endpoint is not that region's, so a
# lost us-east-1 never marks Route 53 as down (and the other way round).
ROUTE53_REGION = "us-east-1"
GLOBAL_SERVICES = frozenset({"route53"})
# Longer than one `status` pass against a dead region, shorter than a switchover's wait.
DOWN_MEMO_SECONDS = 30.0
CREDENTIAL_ERRORS = frozenset(
    {
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "SignatureDoesNotMatch",
        "InvalidAccessKeyId",
    }
)
# What botocore raises, before any request leaves the machine, when it cannot find or load credentials: a
# missing profile, half a key pair, an expired SSO or login session, a failing credential_process.
CREDENTIAL_LOAD_ERRORS = (
    NoCredentialsError,
    PartialCredentialsError,
    ProfileNotFound,
    SSOError,
    TokenRetrievalError,
    LoginError,
    CredentialRetrievalError,
    UnknownCredentialError,
    RefreshWithMFAUnsupportedError,
    MetadataRetrievalError,
    NoAuthTokenError,
    InvalidConfigError,
    ConfigNotFound,
    ConfigParseError,
)
RELOGIN = "assume the DR operator role again (or `aws sso login`) and re-run"


class Unreachable(Exception):
    """A region did not answer (or answered with an error); the reason is the message."""


class Rejected(Unreachable):
    """The region answered and refused the request (a 4xx error): the request changed nothing."""


class Clients:
    """Caches one client per (service, region); the same object each time, so tests can stub it."""

    def __init__(
        self, session: boto3.Session | None = None, endpoint_url: str | None = None, config: Config = DEFAULT_CONFIG
    ):
        # Created on first use: boto3.Session() already reads the profile (ProfileNotFound), and that must
        # surface inside a command, where it is reported as a credential problem.
        self._session = session
        self.endpoint_url = endpoint_url
        self.config = config
        self.down: dict[str, tuple[float, str]] = {}  # region (or global service) -> since when, and why
        self.monotonic: Callable[[], float] = time.monotonic  # the command's clock (see use_clock)
        self._cache: dict[tuple[str, str], BaseClient] = {}
        self._lock = threading.Lock()

    def unreachable(self) -> dict[str, str]:
        """Regions (or global services) skipped right now, and why."""
        now = self.monotonic()
        return {where: why for where, (since, why) in self.down.items() if now - since < DOWN_MEMO_SECONDS}

    def use_clock(self, monotonic: Callable[[], float]) -> None:
        """The clock the command waits on, so a skipped region is asked again as its polls advance."""
        self.monotonic = monotonic

    @classmethod
    def from_environment(cls) -> Clients:
        return cls(endpoint_url=os.environ.get(ENDPOINT_ENV) or None)

    @property
    def session(self) -> boto3.Session:
        if self._session is None:
            self._session = boto3.Session()
        return self._session

    def __call__(self, service: str, region: str, endpoint_url: str | None = None) -> Any:
        """The client of `service` in `region`, always with that region named: never the profile's default
        region, which may be the lost one. `endpoint_url`: an endpoint of its own (ARC's cluster endpoints)."""
        key = (service, region, endpoint_url)
        with self._lock:  # boto3 sessions are not thread-safe; `status` reads from several threads
            if key not in self._cache:
                self._cache[key] = self.session.client(
                    service,
                    region_name=region,
                    endpoint_url=endpoint_url or self.endpoint(service, region),
                    config=self.config,
                )
            return self._cache[key]

    def endpoint(self, service: str, region: str) -> str | None:
        return self.endpoint_url

    def call(self, service: str, region: str, operation: str, *, endpoint_url: str | None = None, **params: Any) -> Any:
        """One API call that raises Unreachable instead of SDK errors (credential problems aside).

        A call to an endpoint of its own (`endpoint_url`) that fails marks that endpoint down, not the region."""
        where = endpoint_url or (service if service in GLOBAL_SERVICES else region)
        if where in self.down:
            since, why = self.down[where]
            if self.monotonic() - since < DOWN_MEMO_SECONDS:
                raise Unreachable(f"{where} skipped: {why}")
            del self.down[where]
        try:
            return getattr(self(service, region, endpoint_url), operation)(**params)
        except CREDENTIAL_LOAD_ERRORS as error:  # found out while creating the client or signing the request
            raise credential_problem(error) from error
        except (BotoConnectionError, HTTPClientError) as error:  # refused, timed out, cut off
            why = f"unreachable ({type(error).__name__})"
            self.down[where] = (self.monotonic(), why)
            raise Unreachable(f"{where}: {why}") from error
        except ClientError as error:
            raise_for_credentials(error)
            status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 500
            problem = Rejected if 400 <= status < 500 else Unreachable  # a final 5xx may have been applied
            raise problem(f"{region}: {error_message(error)}") from error


def error_message(error: ClientError) -> str:
    details = error.response.get("Error", {})
    return f"{details.get('Code', 'Error')}: {details.get('Message', str(error))}"


def raise_for_credentials(error: ClientError) -> None:
    """Rejected credentials are a usage problem, never a region outage."""
    if error.response.get("Error", {}).get("Code") in CREDENTIAL_ERRORS:
        raise UsageError(f"AWS rejected the credentials ({error_message(error)}): refresh them: {RELOGIN}") from error


def first_answer(regions: Iterable[str], read: Callable[[str], T]) -> tuple[str, T]:
    """The first region (in the given order) whose read succeeds, and its answer."""
    reasons = []
    for region in regions:
        try:
            return region, read(region)
        except Unreachable as error:
            reasons.append(str(error))
    raise Unreachable("; ".join(reasons) or "no region to ask")


def missing_credentials(error: NoCredentialsError) -> UsageError:
    return UsageError(
        f"no AWS credentials found: assume the DR operator role (or set AWS_PROFILE) and re-run ({error})"
    )


def credential_problem(error: Exception) -> UsageError:
    """One line naming the credential problem and what to do; nothing was sent to AWS."""
    if isinstance(error, NoCredentialsError):
        return missing_credentials(error)
    if isinstance(error, ProfileNotFound):
        return UsageError(
            f"AWS profile {error.kwargs.get('profile')!r} not found in the AWS config files: "
            "check AWS_PROFILE (`aws configure list-profiles`) and re-run"
        )
    if isinstance(error, PartialCredentialsError):
        return UsageError(
            f"incomplete AWS credentials ({error}): set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
            "(and AWS_SESSION_TOKEN for a role session), or unset them and use a profile"
        )
    if isinstance(error, (SSOError, TokenRetrievalError, LoginError)):
        return UsageError(
            f"the AWS sign-in session has expired or is missing ({error}): run `aws sso login` "
            "(with the same AWS_PROFILE) and re-run"
        )
    return UsageError(f"AWS credentials could not be loaded ({type(error).__name__}: {error}): {RELOGIN}")
