"""Checking a TMI server from the admin area: can we reach it, is it TMI, which generation, what it offers.

The answer is in words for people who do not read stack traces; the technical reason is kept beside it.
"""

from __future__ import annotations

import errno
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from portal.accounts.tmi_failures import Context, failure_words
from portal.accounts.tmi_generations import tmi_server_info_known
from portal.accounts.vault import (
    SignInRequired,
    tmi_client_options,
    tmi_connection_get,
    tmi_tokens_get,
    tmi_tokens_refresh,
)
from portal.conformance.results import Check
from portal.conformance.suite import conformance_run
from portal.organizations.allowances import allowance_take
from portal.organizations.tmi_servers import NOT_ALLOWED_MESSAGE
from portal.tmi import APIConnectionError, APITimeoutError, Failure, TMIClient, TMIError, TokenAuth, failure_of

CHECK_TIMEOUT_SECONDS = 5.0
# The read-only conformance checks make about 30 calls; a server that needs more is stopped there.
CONFORMANCE_MAX_REQUESTS = 80
HEALTH_TIMEOUT_SECONDS = 3.0


@dataclass(frozen=True)
class ConnectionReport:
    base_url: str
    reachable: bool
    summary: str  # one plain sentence
    generation: str = ""
    version: str = ""
    status: str = ""
    providers: list[tuple[str, str]] = field(default_factory=list)  # (id, name)
    elapsed_ms: int = 0
    problem: str = ""  # not_allowed | rate_limited | dns | refused | timeout | not_tmi | error | ""
    # (works, one sentence) for the organisation's stored client credentials; None when not checked.
    credentials: tuple[bool, str] | None = None
    # The read-only conformance checks (portal/conformance) run with the admin's own TMI token: a table of
    # (check, outcome, detail), and a sentence about them (why they did not run, or how many passed).
    checks: list[Check] = field(default_factory=list)
    checks_summary: str = ""


def _root_cause(error: BaseException) -> BaseException:
    seen = error
    while seen.__cause__ is not None or seen.__context__ is not None:
        seen = seen.__cause__ or seen.__context__
    return seen


def _connection_problem(error: APIConnectionError) -> tuple[str, str]:
    if isinstance(error, APITimeoutError):
        return "timeout", _("The server did not answer in time. It may be down, or a firewall may drop the traffic.")
    text = f"{error} {_root_cause(error)}".lower()
    cause = _root_cause(error)
    code = getattr(cause, "errno", None)
    if (
        "name or service not known" in text
        or "nodename nor servname" in text
        or "getaddrinfo" in text
        or "temporary failure in name resolution" in text
        or "no address associated" in text
    ):
        return "dns", _("The server's name could not be found (DNS). Check the spelling of the address.")
    if code == errno.ECONNREFUSED or "connection refused" in text or "connect call failed" in text:
        return "refused", _(
            "Nothing is listening at that address: the connection was refused. "
            "Check the port, or whether TMI is running."
        )
    return "error", _("The server could not be reached: %(reason)s") % {"reason": type(cause).__name__}


# The report's `problem` for each kind of failure; a connection that never completed is read more finely
# (_connection_problem: the name, the port, the time).
_PROBLEMS = {
    Failure.NOT_ALLOWED: "not_allowed",
    Failure.NOT_FOUND: "not_tmi",
    Failure.UNSUPPORTED: "not_tmi",
    Failure.MALFORMED: "not_tmi",
}


def _failure_report(base_url: str, error: BaseException, elapsed_ms: int) -> ConnectionReport:
    if isinstance(error, APIConnectionError):
        problem, summary = _connection_problem(error)
        return ConnectionReport(base_url, False, summary, elapsed_ms=elapsed_ms, problem=problem)
    kind = failure_of(error) or Failure.MALFORMED  # TypeError, ValueError: an answer not shaped like TMI's
    if kind is Failure.NOT_ALLOWED:
        return not_allowed_report(base_url)
    summary = failure_words(error if isinstance(error, TMIError) else kind, Context.CONNECTION_CHECK)
    return ConnectionReport(base_url, False, summary, elapsed_ms=elapsed_ms, problem=_PROBLEMS.get(kind, "error"))


def _client(base_url: str, timeout: float) -> TMIClient:
    # Built like every TMI client (vault.tmi_client_options): under the operator's rule (tmi_servers.py), so a
    # refused address is refused before a connection is opened and the answer cannot tell what listens there,
    # and within the server's cap on calls at once. Its GET / answers are remembered (accounts/tmi_generations.py).
    return TMIClient(base_url, **tmi_client_options(base_url, timeout=timeout, max_retries=0))


def not_allowed_report(base_url: str) -> ConnectionReport:
    """The same words for every refused address, whatever it is; nothing measured, nothing asked."""
    return ConnectionReport(base_url, False, str(NOT_ALLOWED_MESSAGE), problem="not_allowed")


def tmi_test_allowance_take(*, organization_id: int, user_id: int) -> bool:
    """One "Test connection" counted against the organisation's and the user's allowance for the current
    minute (PORTAL_TMI_TESTS_PER_MINUTE each); False when either is spent. Each check makes the portal
    open connections to an address someone typed, so they are not free."""
    limit = settings.PORTAL_TMI_TESTS_PER_MINUTE
    return allowance_take({f"tmi-test:org:{organization_id}": limit, f"tmi-test:user:{user_id}": limit})


def rate_limited_report(base_url: str) -> ConnectionReport:
    return ConnectionReport(
        base_url,
        False,
        _("Too many connection tests: at most %(count)s a minute. Nothing was checked; wait a minute and try again.")
        % {"count": settings.PORTAL_TMI_TESTS_PER_MINUTE},
        problem="rate_limited",
    )


def tmi_server_check(*, base_url: str, timeout: float = CHECK_TIMEOUT_SECONDS, fresh: bool = True) -> ConnectionReport:
    """GET / (generation, version) and the sign-in providers, once each, without retries. `fresh=False` (what
    the admin pages show on each view) takes what the last GET / said while the portal remembers it: a real
    server's GET / runs its health checks, and 0.217 allows it 10 times a minute per address, so viewing the
    admin pages could use up the allowance the portal's pages and sign-ins need."""
    started = time.perf_counter()

    def elapsed() -> int:
        return int((time.perf_counter() - started) * 1000)

    try:
        with _client(base_url, timeout) as client:
            server = (None if fresh else tmi_server_info_known(base_url)) or client.discovery()
            providers = [(p.id, p.name or p.id) for p in client.auth.providers()]
    except (TMIError, TypeError, ValueError) as error:
        return _failure_report(base_url, error, elapsed())
    took = elapsed()
    summary = ngettext(
        "Connected to TMI %(version)s (generation %(generation)s) in %(ms)s ms; it offers %(count)s sign-in option.",
        "Connected to TMI %(version)s (generation %(generation)s) in %(ms)s ms; it offers %(count)s sign-in options.",
        len(providers),
    ) % {
        "version": server.version or _("(version not reported)"),
        "generation": server.generation,
        "ms": took,
        "count": len(providers),
    }
    return ConnectionReport(
        base_url,
        True,
        summary,
        generation=server.generation,
        version=server.version,
        status=server.status,
        providers=providers,
        elapsed_ms=took,
    )


def tmi_client_credentials_check(
    *, base_url: str, client_id: str, client_secret: str, timeout: float = CHECK_TIMEOUT_SECONDS
) -> tuple[bool, str]:
    """Do the stored client credentials (for scheduled exports run as the organisation) get a token?
    (works, one plain sentence). Asks for one token and uses it for nothing."""
    if not client_id or not client_secret:
        return False, _("No client credentials are stored; scheduled exports run as their owners.")
    try:
        with _client(base_url, timeout) as client:
            client.auth.client_credentials(client_id, client_secret)
    except APIConnectionError as error:
        return False, _connection_problem(error)[1]
    except TMIError as error:  # refused credentials, a generation without them, a refused address, ...
        return False, failure_words(error, Context.CREDENTIALS_CHECK)
    return True, _("The stored client credentials work: TMI issued a token for them.")


def tmi_conformance_check(*, organization, user, generation: str) -> tuple[list[Check], str]:
    """The read-only conformance checks (portal/conformance/suite.py) at the organisation's saved server, as
    `user` with their own TMI token (refreshed through the vault if it runs out): (checks, one sentence).
    Nothing is created, refreshed or signed out; GET / is not asked again (`generation` is what the connection
    check just learnt)."""
    try:
        connection = tmi_connection_get(organization=organization, user=user)
        pair = tmi_tokens_get(organization=organization, user=user)
    except SignInRequired:
        return [], _("Sign in to the portal through this TMI server to run the checks of what the portal relies on.")
    auth = TokenAuth(
        pair,
        refresh=lambda stale: tmi_tokens_refresh(connection_id=connection.pk, stale=stale),
    )
    base_url = organization.tmi_base_url
    options = tmi_client_options(organization, timeout=CHECK_TIMEOUT_SECONDS, max_retries=0)
    options.pop("generation_hint", None)
    options.pop("on_discovery", None)

    def connect(**client_options) -> TMIClient:
        return TMIClient(base_url, **{**options, **client_options})

    report = conformance_run(
        base_url=base_url,
        connect=connect,
        auth=auth,
        read_only=True,
        generation=generation,
        max_concurrency=organization.tmi_max_concurrency,
        max_requests=CONFORMANCE_MAX_REQUESTS,
    )
    summary = _("%(passed)s of %(counted)s checks of what the portal relies on passed (read only, as you).") % {
        "passed": report.passed,
        "counted": report.counted,
    }
    return report.checks, summary
