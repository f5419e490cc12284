"""The conformance checks: does a TMI server answer every call the portal makes the way the portal relies on?

    report = conformance_run(base_url="https://tmi.example")               # signs in through the test IdP
    report = conformance_run(base_url=url, auth=token, read_only=True)     # only reads; creates nothing
    for check in report.checks: print(check.outcome, check.name, check.detail)

Each check is one behaviour: its own assertions (from PROTOCOL.md sections 5, 6, 7, 9, 12 and 12b), and
every response and WebSocket frame it caused held against the official OpenAPI/AsyncAPI document of the
server's generation (contract/; the real server's documented deviations excused, nothing else).

Manners, so the run passes against servers that enforce their limits: GET / is asked once; sign-in uses a
fresh login hint and state, and two sign-ins at most; calls are sequential except one burst of
`max_concurrency` reads (the cap the portal keeps per server); the run stops at `max_requests`. Everything
it creates is deleted again, also when a check fails midway.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import string
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

from portal.conformance.known_bugs import known_bug
from portal.conformance.recording import BudgetExhausted, Recording
from portal.conformance.results import FAIL, OK, SKIP, Check, Report
from portal.conformance.socket import FIRST_MESSAGES, first_frames
from portal.tmi import (
    APIConnectionError,
    MalformedResponse,
    RefreshFailed,
    TMIClient,
    TMIError,
    TMIStatusError,
    pkce,
)
from portal.tmi.calls import JSON_PATCH
from portal.tmi.generations import GenerationProfile, profile_for

DEFAULT_MAX_REQUESTS = 400
DEFAULT_MAX_CONCURRENCY = 4
DEFAULT_CLIENT_CALLBACK = (
    "http://127.0.0.1:8000/auth/complete/tmi/"  # the portal's own, as TMI's allow-list must list it
)
SESSION_SWEEP_SECONDS = 16  # a session nobody joined is gone within 15 s (PROTOCOL.md 6.5)
NO_SUCH_ID = "00000000-0000-4000-8000-000000000000"
CHILD_KINDS = ("threats", "diagrams", "documents", "assets", "notes", "repositories")
# Fields the server owns; in a child's POST body they are ignored (PROTOCOL.md 5.1, 12.1).
SERVER_OWNED = {
    "owner": "someone-else",
    "threat_model_id": NO_SUCH_ID,
    "version": 99,
    "created_by": "someone-else",
    "deleted_at": "2000-01-01T00:00:00Z",
}
READ_ONLY_FIELDS = {"id": NO_SUCH_ID, "created_at": "2000-01-01T00:00:00Z", "modified_at": "2000-01-01T00:00:00Z"}

Connect = Callable[..., TMIClient]


class Failed(Exception):
    """A check's own assertion did not hold."""


class Skipped(Exception):
    """A check that does not apply (its reason is the message)."""


class _Unreachable(Exception):
    """The run cannot go on: the server was not reached, is not TMI, or could not be signed in to."""


def fresh_login_hint() -> str:
    """`conformance-<8 random>`: 20 characters of [a-z0-9-], a valid hint at both generations (3.3, 9.2), so
    every run is a new test-IdP user and stays far from 0.217's 10 sign-ins an hour per hint."""
    alphabet = string.ascii_lowercase + string.digits
    return "conformance-" + "".join(secrets.choice(alphabet) for _ in range(8))


def conformance_run(
    *,
    base_url: str,
    connect: Connect | None = None,
    auth: Any = None,
    second_auth: Any = None,
    login_hint: str | None = None,
    client_callback: str = DEFAULT_CLIENT_CALLBACK,
    read_only: bool = False,
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
    max_requests: int = DEFAULT_MAX_REQUESTS,
    generation: str | None = None,
) -> Report:
    """Run the checks against the TMI server at `base_url`.

    `connect(auth=..., generation=..., event_hooks=...)` builds each TMI client (the caller's timeout, gate,
    address guard); by default a plain TMIClient without retries. `auth` is the member's token (a string, a
    TokenPair or a TokenAuth); without it the run signs in through the server's test IdP as `login_hint` (a
    fresh user by default). `second_auth` is another member's, for the access checks (signed in as a second
    fresh user when the run signs in itself). `generation`, when already known, saves the run its GET /.
    `read_only` makes the run read only: it creates nothing, and neither refreshes nor signs out a token.
    """
    run = _Run(
        base_url=base_url.rstrip("/"),
        connect=connect or _default_connect(base_url),
        auth=auth,
        second_auth=second_auth,
        login_hint=login_hint,
        client_callback=client_callback,
        read_only=read_only,
        max_concurrency=max(1, max_concurrency),
        max_requests=max_requests,
        generation=generation,
    )
    return run.go()


def _default_connect(base_url: str) -> Connect:
    def connect(**options: Any) -> TMIClient:
        return TMIClient(base_url, max_retries=0, **options)

    return connect


def _error_body(response: Any) -> dict[str, Any]:
    """The JSON error body every TMI error carries (PROTOCOL.md 2.2): at least a string `error`."""
    try:
        body = response.json()
    except ValueError:
        raise Failed(f"{response.status_code} with a body that is not JSON: {response.text[:120]!r}") from None
    if not isinstance(body, dict) or not isinstance(body.get("error"), str):
        raise Failed(f"{response.status_code} without an error body: {response.text[:120]!r}")
    return body


def _expect_status(response: Any, *expected: int) -> None:
    if response.status_code not in expected:
        wanted = " or ".join(str(status) for status in expected)
        raise Failed(
            f"{response.request.method} {response.request.url.path}: {response.status_code}, expected {wanted}"
        )


def _expect_error(response: Any, *expected: int) -> dict[str, Any]:
    _expect_status(response, *expected)
    return _error_body(response)


def _nulls(value: Any, path: str = "") -> list[str]:
    if value is None:
        return [path or "."]
    if isinstance(value, dict):
        return [found for key, item in value.items() for found in _nulls(item, f"{path}/{key}")]
    if isinstance(value, list):
        return [found for index, item in enumerate(value) for found in _nulls(item, f"{path}/{index}")]
    return []


def _shift(timestamp: Any, seconds: float) -> str:
    """An RFC 3339 UTC date-time `seconds` away from `timestamp` (a datetime or its text)."""
    moment = timestamp if isinstance(timestamp, datetime) else datetime.fromisoformat(str(timestamp))
    return (moment + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


class _Run:
    def __init__(self, **options: Any) -> None:
        self.__dict__.update(options)
        self.recording = Recording(max_requests=self.max_requests)
        self.report = Report(base_url=self.base_url)
        self.clients: list[TMIClient] = []
        self.profile: GenerationProfile | None = None
        self.owner: TMIClient | None = None  # the member the run acts as
        self.second: TMIClient | None = None  # another member, for the access checks
        self.signed_in: list[TMIClient] = []  # clients whose tokens the run got itself (and signs out)
        self.created: list[str] = []  # threat models to delete at the end
        self.sessions: list[tuple[str, str]] = []  # collaboration sessions to end
        self.tm: Any = None  # the threat model the child checks work in
        self.stopped = ""  # why the remaining checks were not run (the request budget)

    # -- the frame of a run ---------------------------------------------------------------------------
    def go(self) -> Report:
        try:
            self._reach()
            self._sign_in()
            try:
                self._checks()
            finally:
                self._clean_up()
            self._token_checks()
        except _Unreachable as reason:
            self.report.unreachable = str(reason)
        finally:
            self._sign_out_leftovers()
            for client in self.clients:
                client.close()
            self.report.requests = self.recording.requests
        return self.report

    def _checks(self) -> None:
        self._auth_checks()
        self._http_checks()
        self._list_checks()
        if self.read_only:
            self._read_existing()
        else:
            self._threat_model_checks()
            for kind in CHILD_KINDS:
                self._child_checks(kind)
            self._access_checks()
            self._collaboration_checks()
        self._concurrency_check()

    def client(self, auth: Any = None) -> TMIClient:
        options: dict[str, Any] = {"auth": auth, "event_hooks": self.recording.hooks()}
        if self.profile is not None:
            options["generation"] = self.profile.name  # GET / is asked once per run, by the first client
        elif self.generation:
            options["generation"] = self.generation
        client = self.connect(**options)
        self.clients.append(client)
        return client

    @property
    def g(self) -> str:
        return self.profile.name if self.profile else ""

    # -- one check --------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def check(self, name: str) -> Iterator[None]:
        """Run the block as the check `name`: ok when it finishes and the server's answers kept to the
        contract; FAIL with the reason otherwise; skip when it raised Skipped."""
        if self.stopped:
            self.report.checks.append(Check(name, SKIP, self.stopped))
            return
        mark = self.recording.mark()
        detail = ""
        try:
            yield
        except Skipped as reason:
            self.report.checks.append(Check(name, SKIP, str(reason)))
            return
        except BudgetExhausted as reason:
            self.stopped = f"not run: {reason}"
            self.report.checks.append(Check(name, FAIL, str(reason)))
            return
        except (Failed, TMIError) as error:
            detail = _describe(error)
        except _Unreachable:
            raise
        except Exception as error:  # any other surprise (an answer not shaped like TMI's) fails this check only
            detail = f"{type(error).__name__}: {error}"
        violations = self.recording.unexcused_since(mark)
        if violations:
            first = violations[0]
            contract = f"contract: {first}" + (f" (+{len(violations) - 1} more)" if len(violations) > 1 else "")
            detail = f"{detail}; {contract}" if detail else contract
        if detail and (bug := known_bug(self.report.version, name)):
            detail = f"{detail} [{bug}]"
        self.report.checks.append(Check(name, FAIL if detail else OK, detail or self._seen))
        self._seen = ""

    _seen = ""

    def saw(self, text: str) -> None:
        """A detail for an ok line (what was seen)."""
        self._seen = text

    def only(self, generation: str, section: str) -> None:
        """The check is about a behaviour seen or documented for one generation only (PROTOCOL.md `section`)."""
        if self.g != generation:
            raise Skipped(f"a TMI {generation} behaviour (PROTOCOL.md {section})")

    def need(self, value: Any, what: str) -> Any:
        if value is None:
            raise Skipped(f"needs {what}")
        return value

    def writes(self) -> None:
        if self.read_only:
            raise Skipped("read-only run")

    # -- raw requests, for what the typed client hides (statuses, headers, wrong bodies on purpose) ----------
    def raw(
        self,
        client: TMIClient,
        method: str,
        path: str,
        *,
        token: bool = True,
        body: Any = None,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
        params: dict[str, Any] | None = None,
    ) -> Any:
        sent = {"Accept": "application/json", **(headers or {})}
        if token and client.tokens is not None:
            sent["Authorization"] = f"Bearer {client.tokens.access_token}"
        content = None
        if body is not None:
            content = body if isinstance(body, bytes) else json.dumps(body).encode()
            sent["Content-Type"] = content_type
        return client.http.request(method, path, headers=sent, content=content, params=params)

    # -- reaching the server and signing in -------------------------------------------------------------------
    def _reach(self) -> None:
        anonymous = self.client()
        self.anonymous = anonymous
        with self.check("discovery: GET / names the server and its generation"):
            if self.generation:
                self.profile = profile_for(self.generation)
                self.recording.know_generation(self.generation)
                self.report.generation = self.generation
                raise Skipped(f"generation {self.generation} already known (GET / is asked once)")
            try:
                info = anonymous.discovery()
            except APIConnectionError as error:
                self.report.checks.append(
                    Check("discovery: GET / names the server and its generation", FAIL, str(error))
                )
                raise _Unreachable(f"could not reach {self.base_url}: {_describe(error)}") from None
            except (TMIError, TypeError, ValueError) as error:
                self.report.checks.append(
                    Check("discovery: GET / names the server and its generation", FAIL, _describe(error))
                )
                raise _Unreachable(f"{self.base_url} does not answer GET / as TMI does: {_describe(error)}") from None
            self.profile = profile_for(info.generation)
            self.report.generation, self.report.version = info.generation, info.version
            self.recording.know_generation(info.generation)
            last = self.recording.last_response
            if last is not None:  # GET / came before the generation was known: checked now
                self.recording.recorder.record_exchange(last.request, last)
            self.saw(f"TMI {info.version or '?'} (generation {info.generation}, build {info.build or '?'})")
        with self.check("providers: GET /oauth2/providers lists the sign-in options"):
            providers = anonymous.auth.providers()
            ids = sorted(provider.id for provider in providers)
            self.test_idp = next((p for p in providers if p.id == self.profile.test_idp), None)
            if self.test_idp is None and self.auth is None:
                self.report.checks.append(
                    Check(
                        "providers: GET /oauth2/providers lists the sign-in options",
                        FAIL,
                        f"no test provider {self.profile.test_idp!r} (offered: {', '.join(ids) or 'none'})",
                    )
                )
                raise _Unreachable(
                    f"the server offers no test provider {self.profile.test_idp!r} to sign in with; give a token"
                )
            self.saw(f"offered: {', '.join(ids) or 'none'}")

    def _sign_in(self) -> None:
        name = "sign-in: PKCE code flow with the test provider"
        if self.auth is not None:
            self.owner = self.client(self.auth)
            self.report.checks.append(Check(name, SKIP, "a token was given"))
        else:
            hint = self.login_hint or fresh_login_hint()
            with self.check(name):
                self.owner = self._signed_in(hint)
                self.saw(f"signed in as {hint}")
            if self.owner is None:
                raise _Unreachable(f"could not sign in to {self.base_url}: {self.report.checks[-1].detail}")
        name = "sign-in: a second member (for the access checks)"
        if self.second_auth is not None:
            self.second = self.client(self.second_auth)
            self.report.checks.append(Check(name, SKIP, "a second token was given"))
        elif self.read_only:
            self.report.checks.append(Check(name, SKIP, "read-only run"))
        elif self.auth is not None or self.test_idp is None:
            self.report.checks.append(Check(name, SKIP, "give a second member's token for the access checks"))
        else:
            with self.check(name):
                self.second = self._signed_in(fresh_login_hint())

    def _signed_in(self, hint: str) -> TMIClient:
        """Sign in as the test-IdP user `hint` (PROTOCOL.md 8): authorize (302 to the client callback with a
        code and our state), then exchange the code with the PKCE verifier."""
        verifier = pkce.code_verifier()
        state = secrets.token_urlsafe(16)
        url = self.anonymous.auth.authorize_url(
            self.test_idp,
            state=state,
            code_challenge=pkce.code_challenge(verifier),
            client_callback=self.client_callback,
            login_hint=hint,
        )
        redirect = self.anonymous.http.get(url, headers={"Accept": "application/json"})
        if redirect.status_code != 302:
            body = redirect.text[:160]
            raise Failed(f"authorize answered {redirect.status_code}, not 302 to the client callback: {body!r}")
        location = redirect.headers.get("location", "")
        query = parse_qs(urlsplit(location).query)
        if not location.startswith(self.client_callback.split("?", 1)[0]):
            raise Failed(f"authorize redirected to {location[:120]!r}, not the client callback")
        if query.get("state", [""])[0] != state or not query.get("code"):
            raise Failed(f"the redirect lacks the code or our state: {location[:160]!r}")
        pair = self.anonymous.auth.exchange_code(
            query["code"][0], verifier, redirect_uri=self.client_callback, idp=self.test_idp.id
        )
        if pair.token_type != self.profile.token_type:
            raise Failed(f"token_type {pair.token_type!r}, expected {self.profile.token_type!r}")
        if pair.expires_in <= 0 or not pair.refresh_token:
            raise Failed(
                f"expires_in {pair.expires_in} and refresh token {'present' if pair.refresh_token else 'missing'}"
            )
        client = self.client(pair)
        self.signed_in.append(client)
        return client

    # -- auth and edge behaviours -----------------------------------------------------------------------------
    def _auth_checks(self) -> None:
        owner = self.owner
        with self.check("auth: userinfo names the signed-in member"):
            info = owner.auth.userinfo()
            if not (info.email or info.provider_id):
                raise Failed("userinfo has neither an email nor a user id")
            self.saw(info.email or info.provider_id)
        with self.check(f"auth: the profile ({self.profile.profile_path}) answers"):
            me = owner.auth.me()
            self.saw(me.email or me.provider_id or "")
        with self.check("auth: a call without a token is 401 with an error body"):
            _expect_error(self.raw(owner, "GET", "/threat_models", token=False), 401)

    def _http_checks(self) -> None:
        owner = self.owner
        with self.check("http: a protected path answers 401 before 405 (PATCH /collaborate without a token)"):
            self.only("1.8", "12.7")
            path = f"/threat_models/{NO_SUCH_ID}/diagrams/{NO_SUCH_ID}/collaborate"
            _expect_status(self.raw(owner, "PATCH", path, token=False), 401)
        with self.check("http: GET /threat_models/ (trailing slash) is 301 to /threat_models"):
            self.only("1.8", "12.11")
            response = self.raw(owner, "GET", "/threat_models/")
            _expect_status(response, 301)
            if urlsplit(response.headers.get("location", "")).path != "/threat_models":
                raise Failed(f"Location {response.headers.get('location')!r}")
        with self.check("http: GET answers say Cache-Control: no-store"):
            self.only("1.8", "12.19")
            response = self.raw(owner, "GET", "/threat_models", params={"limit": 1})
            if "no-store" not in response.headers.get("cache-control", ""):
                raise Failed(f"Cache-Control {response.headers.get('cache-control')!r}")
        with self.check("errors: a missing threat model is 404 with an error body"):
            _expect_error(self.raw(owner, "GET", f"/threat_models/{NO_SUCH_ID}"), 404)

    # -- lists -----------------------------------------------------------------------------------------------
    def _list_checks(self) -> None:
        owner = self.owner
        if not self.read_only:
            with self.check("threat models: create"):
                first = owner.threat_models.create(name="TMI conformance (first)", description="portal conformance")
                self.created.append(first.id)
                self.tm = owner.threat_models.create(name="TMI conformance", description="portal conformance check")
                self.created.append(self.tm.id)
                if self.tm.name != "TMI conformance" or not self.tm.id:
                    raise Failed(f"the created model says name {self.tm.name!r}, id {self.tm.id!r}")
        with self.check("threat models: list has the generation's shape"):
            response = self.raw(owner, "GET", "/threat_models", params={"limit": 2})
            _expect_status(response, 200)
            body = response.json()
            if self.profile.wrapped_lists:
                missing = [key for key in ("threat_models", "total", "limit", "offset") if key not in body]
                if not isinstance(body, dict) or missing:
                    raise Failed(f"the list wrapper lacks {', '.join(missing) or 'its object'}")
            elif not isinstance(body, list):
                raise Failed("TMI 0.217 lists are plain arrays")
            page = owner.threat_models.list(limit=100)
            if self.tm is not None and self.tm.id not in [item.id for item in page.items]:
                raise Failed("the model just created is not listed")
            self.saw(
                f"{len(page.items)} model(s) on the first page"
                + (f", total {page.total}" if page.total is not None else "")
            )
        with self.check("threat models: pagination (limit and offset)"):
            one = owner.threat_models.list(limit=1, offset=0)
            if len(one.items) > 1:
                raise Failed(f"limit=1 gave {len(one.items)} items")
            if self.profile.wrapped_lists and (one.limit != 1 or one.offset != 0):
                raise Failed(f"the wrapper says limit {one.limit}, offset {one.offset}")
            two = owner.threat_models.list(limit=1, offset=1)
            if one.items and two.items and one.items[0].id == two.items[0].id:
                raise Failed("offset=1 gave the same model as offset=0")
            if not self.read_only and not (one.items and two.items):
                raise Failed("two models exist, yet a page of one at offset 0 and 1 did not give both")
        with self.check("threat models: a limit out of range (0, 101) is 400"):
            self.only("1.8", "5.1")
            for limit in (0, 101):
                _expect_error(self.raw(owner, "GET", "/threat_models", params={"limit": limit}), 400)
        with self.check("threat models: modified_after filters the list"):
            self.only("1.8", "12.15")
            later = owner.threat_models.list(limit=100, modified_after="2999-01-01T00:00:00Z")
            if later.items:
                raise Failed(f"modified_after 2999 still lists {len(later.items)} model(s)")
            if self.tm is not None:
                before = owner.threat_models.list(limit=100, modified_after=_shift(self.tm.modified_at, -60))
                if self.tm.id not in [item.id for item in before.items]:
                    raise Failed("modified_after a minute before its modified_at leaves the new model out")
        with self.check("threat models: modified_after with a bare date is 400"):
            self.only("1.8", "12.15")
            _expect_error(self.raw(owner, "GET", "/threat_models", params={"modified_after": "2024-01-01"}), 400)

    # -- read-only: what the member can already see ------------------------------------------------------------
    def _read_existing(self) -> None:
        owner = self.owner
        with self.check("threat models: get one the member can see"):
            page = owner.threat_models.list(limit=1)
            if not page.items:
                raise Skipped("the member sees no threat model")
            self.tm = owner.threat_models.get(page.items[0].id)
            self.saw(self.tm.name)
        for kind in CHILD_KINDS:
            with self.check(f"{kind}: list (and get one) in a visible model"):
                tm = self.need(self.tm, "a visible threat model")
                resource = getattr(owner, kind)
                items = list(resource.iter(tm.id))
                if items and kind in ("diagrams", "notes", "threats"):
                    resource.get(tm.id, items[0].id)
                self.saw(f"{len(items)} item(s)")
        self._threat_list_checks()

    # -- writes ------------------------------------------------------------------------------------------------
    def _threat_model_checks(self) -> None:
        owner = self.owner
        with self.check("threat models: get"):
            tm = owner.threat_models.get(self.need(self.tm, "a created threat model").id)
            if tm.id != self.tm.id:
                raise Failed(f"asked for {self.tm.id}, got {tm.id}")
        with self.check("threat models: GET /threat_models/{id} embeds threats and diagrams only, no nulls"):
            self.only("1.8", "12.10")
            response = self.raw(owner, "GET", f"/threat_models/{self.need(self.tm, 'a created threat model').id}")
            _expect_status(response, 200)
            body = response.json()
            extra = [key for key in ("documents", "notes", "assets", "repositories") if key in body]
            nulls = _nulls(body)
            if extra or nulls:
                raise Failed(
                    "; ".join(
                        part
                        for part in (
                            f"embeds {', '.join(extra)}" if extra else "",
                            f"null at {', '.join(nulls[:5])}" if nulls else "",
                        )
                        if part
                    )
                )
        with self.check("threat models: update (PUT)"):
            tm = owner.threat_models.get(self.need(self.tm, "a created threat model").id)
            authorization = [
                {key: entry[key] for key in ("principal_type", "provider", "provider_id", "role") if key in entry}
                for entry in (a.model_dump(exclude_none=True) for a in tm.authorization)
            ]
            updated = owner.threat_models.update(
                tm.id,
                name=tm.name,
                description="updated by PUT",
                threat_model_framework=tm.threat_model_framework or "STRIDE",
                authorization=authorization,
            )
            if updated.description != "updated by PUT":
                raise Failed(f"description after PUT: {updated.description!r}")
        with self.check("threat models: patch (JSON Patch)"):
            tm_id = self.need(self.tm, "a created threat model").id
            patched = owner.threat_models.patch(tm_id, [{"op": "replace", "path": "/description", "value": "patched"}])
            if patched.description != "patched":
                raise Failed(f"description after PATCH: {patched.description!r}")
        with self.check("threat models: PATCH with an empty body is 400 with a JSON error"):
            path = f"/threat_models/{self.need(self.tm, 'a created threat model').id}"
            _expect_error(self.raw(owner, "PATCH", path, body=b"", content_type=JSON_PATCH), 400)
        with self.check("threat models: PATCH of /id is 400"):
            path = f"/threat_models/{self.need(self.tm, 'a created threat model').id}"
            ops = [{"op": "replace", "path": "/id", "value": NO_SUCH_ID}]
            _expect_error(self.raw(owner, "PATCH", path, body=ops, content_type=JSON_PATCH), 400)
        with self.check("threat models: optimistic locking (If-Match, ETag, 409 version_mismatch)"):
            self.only("1.8", "5.1")
            self._optimistic_locking(f"/threat_models/{self.need(self.tm, 'a created threat model').id}")

    def _optimistic_locking(self, path: str) -> None:
        owner = self.owner

        def patch(value: str, if_match: str | None) -> Any:
            headers = {"If-Match": if_match} if if_match is not None else {}
            ops = [{"op": "replace", "path": "/description", "value": value}]
            return self.raw(owner, "PATCH", path, body=ops, content_type=JSON_PATCH, headers=headers)

        response = patch("locked 1", "*")
        _expect_status(response, 200)
        etag = response.headers.get("etag", "")
        version = etag.strip().removeprefix("W/").strip('"')
        if not version.isdigit():
            raise Failed(f"If-Match: * gave ETag {etag!r}, not a version")
        response = patch("locked 2", f'"{version}"')
        _expect_status(response, 200)
        stale = _expect_error(patch("locked 3", f'"{version}"'), 409)
        if stale.get("error") != "version_mismatch":
            raise Failed(f"a stale If-Match says {stale.get('error')!r}, not version_mismatch")
        response = patch("unlocked", None)
        _expect_status(response, 200)
        if response.headers.get("deprecation", "").lower() != "true":
            raise Failed("a write without If-Match lacks Deprecation: true")

    def _child_body(self, kind: str) -> dict[str, Any]:
        return {
            "threats": {"name": "Conformance threat", "threat_type": ["Spoofing"], "severity": "high"},
            "documents": {"name": "Conformance document", "uri": "https://1.1.1.1/tmi-conformance.pdf"},
            "assets": {"name": "Conformance asset", "type": "data"},
            "notes": {"name": "Conformance note", "content": "Written by the portal's conformance check."},
            "repositories": {"name": "Conformance repository", "uri": "https://1.1.1.1/tmi-conformance.git"},
        }[kind]

    def _child_checks(self, kind: str) -> None:
        owner = self.owner
        resource = getattr(owner, kind)
        item = None
        with self.check(f"{kind}: create"):
            tm = self.need(self.tm, "a created threat model")
            item = (
                resource.create(tm.id, "Conformance diagram")
                if kind == "diagrams"
                else resource.create(tm.id, self._child_body(kind))
            )
            if not item.id:
                raise Failed("the created item has no id")
        if kind != "diagrams":  # a diagram's POST body is strict {name, type} (5.4)
            with self.check(f"{kind}: POST ignores server-owned fields"):
                self.only("1.8", "12.1")
                tm = self.need(self.tm, "a created threat model")
                response = self.raw(
                    owner, "POST", f"/threat_models/{tm.id}/{kind}", body={**self._child_body(kind), **SERVER_OWNED}
                )
                _expect_status(response, 201, 202)
                body = response.json()
                body = body.get("document", body) if response.status_code == 202 else body
                if body.get("threat_model_id") not in (None, tm.id):
                    raise Failed(f"threat_model_id {body.get('threat_model_id')!r} was taken from the body")
                self._child_delete(kind, tm.id, body.get("id"))
        with self.check(f"{kind}: POST with id, created_at or modified_at is 400"):
            self.only("1.8", "5.1")
            tm = self.need(self.tm, "a created threat model")
            base = (
                {"name": "Conformance diagram", "type": "DFD-1.0.0"} if kind == "diagrams" else self._child_body(kind)
            )
            for field, value in READ_ONLY_FIELDS.items():
                response = self.raw(owner, "POST", f"/threat_models/{tm.id}/{kind}", body={**base, field: value})
                if response.status_code in (201, 202):
                    body = response.json()
                    self._child_delete(
                        kind, tm.id, (body.get("document", body) if isinstance(body, dict) else {}).get("id")
                    )
                _expect_error(response, 400)
        with self.check(f"{kind}: get"):
            tm, item = self.need(self.tm, "a created threat model"), self.need(item, f"a created {kind[:-1]}")
            got = resource.get(tm.id, item.id)
            if got.id != item.id:
                raise Failed(f"asked for {item.id}, got {got.id}")
        with self.check(f"{kind}: list"):
            tm, item = self.need(self.tm, "a created threat model"), self.need(item, f"a created {kind[:-1]}")
            page = resource.list(tm.id, limit=100)
            if item.id not in [listed.id for listed in page.items]:
                raise Failed("the created item is not listed")
        with self.check(f"{kind}: update (PUT)"):
            tm, item = self.need(self.tm, "a created threat model"), self.need(item, f"a created {kind[:-1]}")
            if kind == "diagrams":
                # 0.217's schema requires cells in a PUT and its code refuses them: diagrams change by JSON Patch.
                self.only("1.8", "12b.6: 0.217 refuses them")
                body: dict[str, Any] = {"name": "Conformance diagram (PUT)", "type": "DFD-1.0.0", "cells": []}
            else:
                body = {**self._child_body(kind), "name": f"Conformance {kind[:-1]} (PUT)"}
            updated = resource.update(tm.id, item.id, body)
            if updated.name != body["name"]:
                raise Failed(f"name after PUT: {updated.name!r}")
        with self.check(f"{kind}: patch (JSON Patch)"):
            tm, item = self.need(self.tm, "a created threat model"), self.need(item, f"a created {kind[:-1]}")
            patched = resource.patch(
                tm.id, item.id, [{"op": "replace", "path": "/name", "value": f"Conformance {kind[:-1]} (PATCH)"}]
            )
            if patched.name != f"Conformance {kind[:-1]} (PATCH)":
                raise Failed(f"name after PATCH: {patched.name!r}")
        if kind == "threats":
            with self.check("threats: PATCH with an empty body is 400 with a JSON error"):
                tm, item = self.need(self.tm, "a created threat model"), self.need(item, "a created threat")
                path = f"/threat_models/{tm.id}/threats/{item.id}"
                _expect_error(self.raw(owner, "PATCH", path, body=b"", content_type=JSON_PATCH), 400)
            self._threat_list_checks(item)
        if kind == "diagrams":
            self.diagram = item
            return  # deleted after the collaboration checks
        with self.check(f"{kind}: delete"):
            tm, item = self.need(self.tm, "a created threat model"), self.need(item, f"a created {kind[:-1]}")
            resource.delete(tm.id, item.id)
            response = self.raw(owner, "GET", f"/threat_models/{tm.id}/{kind}/{item.id}")
            _expect_error(response, 404)

    def _child_delete(self, kind: str, tm_id: str, item_id: str | None) -> None:
        if item_id:
            with contextlib.suppress(TMIError):
                getattr(self.owner, kind).delete(tm_id, item_id)

    def _threat_list_checks(self, threat: Any = None) -> None:
        owner = self.owner
        with self.check("threats: an unknown sort falls back (200)"):
            self.only("1.8", "12.6")
            tm = self.need(self.tm, "a threat model")
            for sort in ("bogus:asc", "severity:sideways"):
                _expect_status(self.raw(owner, "GET", f"/threat_models/{tm.id}/threats", params={"sort": sort}), 200)
        with self.check("threats: modified_after filters the threats"):
            self.only("1.8", "12.15")
            tm = self.need(self.tm, "a threat model")
            later = owner.threats.list(tm.id, limit=100, modified_after="2999-01-01T00:00:00Z")
            if later.items:
                raise Failed(f"modified_after 2999 still lists {len(later.items)} threat(s)")
            if threat is not None:
                before = owner.threats.list(tm.id, limit=100, modified_after=_shift(threat.modified_at, -60))
                if threat.id not in [item.id for item in before.items]:
                    raise Failed("modified_after a minute before the threat's modified_at leaves it out")

    # -- access ----------------------------------------------------------------------------------------------
    def _access_checks(self) -> None:
        owner, second = self.owner, self.second
        with self.check("access: another member cannot read a model not shared with them (403 or 404)"):
            tm, second = self.need(self.tm, "a created threat model"), self.need(second, "a second member")
            _expect_error(self.raw(second, "GET", f"/threat_models/{tm.id}"), 403, 404)
        with self.check("access: a member it is shared with as reader can read it"):
            tm, second = self.need(self.tm, "a created threat model"), self.need(second, "a second member")
            who = second.auth.me()
            grant = {
                "principal_type": "user",
                "provider": who.provider,
                "provider_id": who.provider_id,
                "role": "reader",
            }
            owner.threat_models.patch(tm.id, [{"op": "add", "path": "/authorization/-", "value": grant}])
            seen = second.threat_models.get(tm.id)
            if seen.id != tm.id:
                raise Failed(f"the reader got {seen.id}")
            self.shared = True
        with self.check("access: a reader cannot write (403)"):
            tm, second = self.need(self.tm, "a created threat model"), self.need(second, "a second member")
            self.need(getattr(self, "shared", None), "a model shared with the second member")
            ops = [{"op": "replace", "path": "/name", "value": "written by a reader"}]
            _expect_error(self.raw(second, "PATCH", f"/threat_models/{tm.id}", body=ops, content_type=JSON_PATCH), 403)

    # -- collaboration -------------------------------------------------------------------------------------------
    def _collaboration_checks(self) -> None:
        owner = self.owner
        diagram = getattr(self, "diagram", None)
        session = None
        with self.check("collaboration: POST /collaborate starts a session (201)"):
            tm, diagram = self.need(self.tm, "a created threat model"), self.need(diagram, "a created diagram")
            self.sessions.append((tm.id, diagram.id))  # ended at the end even if the answer is an error
            session = owner.collaboration.start_or_join(tm.id, diagram.id)
            if not session.created or not session.session_id:
                raise Failed(f"created={session.created}, session_id={session.session_id!r}")
        with self.check("collaboration: GET /collaborate shows the live session"):
            session = self.need(session, "a session")
            seen = owner.collaboration.get(self.tm.id, diagram.id)
            if seen is None or seen.session_id != session.session_id:
                raise Failed(f"GET says {seen.session_id if seen else None!r}, POST said {session.session_id!r}")
        url = None
        auth_kind = "a ticket from GET /ws/ticket" if self.g == "1.8" else "the access token"
        with self.check(f"collaboration: the socket URL carries {auth_kind}"):
            session = self.need(session, "a session")
            url = owner.collaboration.websocket_url(session)
            if self.g == "1.8":
                ticket = self.recording.last_response
                if "no-store" not in ticket.headers.get("cache-control", ""):
                    raise Failed(f"GET /ws/ticket says Cache-Control {ticket.headers.get('cache-control')!r}")
        expected = FIRST_MESSAGES.get(self.g, ())
        with self.check(f"collaboration: joining the socket gives {', '.join(expected)} first"):
            url = self.need(url, "a socket URL")
            guard = getattr(owner, "address_guard", None)
            frames = first_frames(url, count=len(expected), guard=guard, on_frame=self.recording.frame_received)
            types = [_message_type(frame) for frame in frames]
            if tuple(types) != expected:
                raise Failed(f"first messages {types}, expected {list(expected)}")
        with self.check("collaboration: the host's DELETE /collaborate ends it (204)"):
            session = self.need(session, "a session")
            owner.collaboration.leave(self.tm.id, diagram.id)
            self.sessions.remove((self.tm.id, diagram.id))
            after = owner.collaboration.get(self.tm.id, diagram.id)
            if after is not None and after.session_id == session.session_id:
                raise Failed("the session is still live after the host's DELETE")
        with self.check("diagrams: delete"):
            tm, diagram = self.need(self.tm, "a created threat model"), self.need(diagram, "a created diagram")
            self._end_sessions()
            owner.diagrams.delete(tm.id, diagram.id)
            _expect_error(self.raw(owner, "GET", f"/threat_models/{tm.id}/diagrams/{diagram.id}"), 404)

    # -- concurrency -------------------------------------------------------------------------------------------
    def _concurrency_check(self) -> None:
        cap = self.max_concurrency
        with self.check(f"concurrency: {cap} reads at once are all answered"):
            with ThreadPoolExecutor(max_workers=cap) as pool:
                pages = list(pool.map(lambda _: self.owner.threat_models.list(limit=1), range(cap)))
            self.saw(f"{len(pages)} answered")

    # -- the end: cleaning up, tokens ------------------------------------------------------------------------
    def _clean_up(self) -> None:
        if self.read_only:
            return
        mark_stopped, self.stopped = self.stopped, ""  # cleaning up is sent even after the budget is spent
        self.recording.max_requests += 20 + 4 * len(self.created)
        self._end_sessions()
        left: list[str] = []
        for tm_id in list(self.created):
            if self.tm is not None and tm_id == self.tm.id:
                with self.check("threat models: delete"):
                    self._delete_threat_model(tm_id)
                    _expect_error(self.raw(self.owner, "GET", f"/threat_models/{tm_id}"), 404)
                continue
            try:
                self._delete_threat_model(tm_id)
            except TMIError as error:
                left.append(f"{tm_id} ({_describe(error)})")
        with self.check("cleanup: everything the run created is deleted"):
            if self.created:
                raise Failed(f"left behind: {'; '.join(left) or ', '.join(self.created)}")
        self.stopped = mark_stopped

    def _end_sessions(self) -> None:
        for tm_id, diagram_id in list(self.sessions):
            with contextlib.suppress(TMIError):
                self.owner.collaboration.leave(tm_id, diagram_id)
                self.sessions.remove((tm_id, diagram_id))

    def _delete_threat_model(self, tm_id: str) -> None:
        """Delete a model the run created. A session the host could not end (a server that answered its POST
        with an error) blocks the delete with 409 until the server sweeps sessions nobody joined (within 15 s:
        PROTOCOL.md 6.5): then once more."""
        try:
            self.owner.threat_models.delete(tm_id)
        except TMIStatusError as error:
            if error.status_code == 409:
                time.sleep(SESSION_SWEEP_SECONDS)
                self.owner.threat_models.delete(tm_id)
            elif error.status_code != 404:
                raise
        self.created.remove(tm_id)

    def _token_checks(self) -> None:
        owner = self.owner
        ours = owner in self.signed_in
        new = None
        with self.check("refresh: a refresh token gives a new pair"):
            self.writes()
            if not ours:
                raise Skipped("only with tokens the run got itself (a refresh would spend yours)")
            old = owner.tokens
            new = owner.auth.refresh(old.refresh_token)
            if not new.access_token or not new.refresh_token or new.refresh_token == old.refresh_token:
                raise Failed("the new pair lacks tokens or repeats the old refresh token")
            self.old_pair = old
            owner.token_auth.tokens = new
        with self.check("refresh: the old refresh token is then refused (single use)"):
            old = self.need(getattr(self, "old_pair", None), "a refresh")
            try:
                owner.auth.refresh(old.refresh_token)
            except RefreshFailed as refused:
                if refused.status_code != 400:
                    raise Failed(f"refused with {refused.status_code}, expected 400") from None
            else:
                raise Failed("the spent refresh token was accepted again")
        with self.check("refresh: the new refresh token still works after the old one was replayed"):
            self.only("1.8", "12.20")
            new = self.need(new, "a refresh")
            newer = owner.auth.refresh(new.refresh_token)
            owner.token_auth.tokens = newer
        with self.check("sign-out: the access token is refused afterwards (401)"):
            self.writes()
            if not ours:
                raise Skipped("only with tokens the run got itself (signing out would end your session)")
            self._sign_out(owner)
            _expect_error(self.raw(owner, "GET", "/threat_models", params={"limit": 1}), 401)

    def _sign_out(self, client: TMIClient) -> None:
        self.signed_in.remove(client)
        client.auth.logout(client.tokens)

    def _sign_out_leftovers(self) -> None:
        self.stopped = ""
        self.recording.max_requests += 4 * len(self.signed_in)
        for client in list(self.signed_in):
            with contextlib.suppress(TMIError, BudgetExhausted):
                self._sign_out(client)


def _message_type(frame: str | bytes) -> str:
    try:
        return str(json.loads(frame).get("message_type"))
    except (ValueError, AttributeError):
        return "?"


def _describe(error: BaseException) -> str:
    if isinstance(error, TMIStatusError):
        text = f"{error.method} {urlsplit(error.url).path} -> {error.status_code} {error.error}"
        return f"{text}: {error.error_description}" if error.error_description else text
    if isinstance(error, MalformedResponse):
        return str(error).replace(str(error.url), urlsplit(error.url).path) if error.url else str(error)
    return str(error) or type(error).__name__
