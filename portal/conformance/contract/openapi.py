"""Check one httpx exchange against the official TMI OpenAPI document of a generation (openapi-core, OAS 3.0).

Policy for what the document does not cover:
- `/_sandbox/*` control routes are the sandbox's own test hooks, not TMI: not checked.
- A path or method the document does not describe is a violation ("undocumented-operation").
- A status the operation does not declare is a violation ("undeclared-status"), except 5xx: TMI's recovery
  middleware (PROTOCOL.md 2.1, step 1) can answer 500 on any route and fault hooks inject them, so an
  undeclared 5xx is only checked to carry the standard `Error` body.
"""

from __future__ import annotations

import json
from functools import cache
from http.cookies import SimpleCookie

import httpx
from jsonschema_path import SchemaPath
from openapi_core import V30RequestValidator, V30ResponseValidator
from openapi_core.datatypes import RequestParameters
from openapi_core.templating.paths.exceptions import PathError
from openapi_core.templating.responses.exceptions import ResponseNotFound
from openapi_core.validation.request.exceptions import ParameterValidationError, SecurityValidationError
from openapi_core.validation.response.exceptions import HeaderValidationError
from openapi_core.validation.schemas.exceptions import InvalidSchemaValue
from werkzeug.datastructures import Headers, ImmutableMultiDict

from portal.conformance.contract.dialect import merge_closed_all_of
from portal.conformance.contract.specs import openapi_path
from portal.conformance.contract.violations import Channel, Violation, schema_violations

UNCHECKED_PATH_PREFIXES = ("/_sandbox/",)


class _OpenAPIRequest:
    """httpx.Request seen through openapi_core.protocols.Request."""

    def __init__(self, request: httpx.Request) -> None:
        url = request.url
        self.host_url = f"{url.scheme}://{url.netloc.decode('ascii')}"
        self.path = url.path
        self.method = request.method.lower()
        self.body = request.content or None  # the transport has read the stream
        self.content_type = request.headers.get("content-type", "")
        cookies = SimpleCookie(request.headers.get("cookie", ""))
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(list(url.params.multi_items())),
            header=Headers(list(request.headers.multi_items())),
            cookie=ImmutableMultiDict({name: morsel.value for name, morsel in cookies.items()}),
        )


class _OpenAPIResponse:
    """httpx.Response (already read) seen through openapi_core.protocols.Response."""

    def __init__(self, response: httpx.Response) -> None:
        self.status_code = response.status_code
        self.headers = Headers(list(response.headers.multi_items()))
        self.content_type = response.headers.get("content-type", "")
        self.data = response.content or None


class OpenAPIContract:
    def __init__(self, generation: str) -> None:
        self.generation = generation
        document = merge_closed_all_of(json.loads(openapi_path(generation).read_bytes()))
        # The documents name production hosts; the sandbox listens on a random loopback port, so match on paths only.
        document["servers"] = [{"url": "/"}]
        self._spec = SchemaPath.from_dict(document)
        # PATCH bodies are JSON Patch documents (PROTOCOL.md 2.3), which openapi-core would leave as bytes.
        parsers = {"application/json-patch+json": json.loads}
        self._requests = V30RequestValidator(self._spec, extra_media_type_deserializers=parsers)
        self._responses = V30ResponseValidator(self._spec, extra_media_type_deserializers=parsers)
        self._error_body = self._responses.schema_validators_factory.create(
            self._spec, self._spec / "components" / "schemas" / "Error"
        )

    def operation_of(self, method: str, url: str) -> str | None:
        """ "GET /threat_models/{threat_model_id}" for a concrete URL, or None when the document lacks it."""
        try:
            found = self._requests.path_finder.find(method.lower(), url)
        except PathError:
            return None
        return f"{method.upper()} {found.path_result.pattern}"

    def check(self, request: httpx.Request, response: httpx.Response) -> list[Violation]:
        if request.url.path.startswith(UNCHECKED_PATH_PREFIXES):
            return []
        operation = self.operation_of(request.method, str(request.url.copy_with(query=None)))
        if operation is None:
            return [
                Violation(
                    self.generation,
                    "request",
                    f"{request.method} {request.url.path}",
                    "undocumented-operation",
                    "no such path and method in the document",
                    status=response.status_code,
                )
            ]
        req, res = _OpenAPIRequest(request), _OpenAPIResponse(response)
        found = [*self._violations(self._requests.iter_errors(req), "request", operation, res.status_code)]
        for error in self._responses.iter_errors(req, res):
            if isinstance(error, ResponseNotFound):
                found += self._undeclared_status(operation, res)
            else:
                found += self._violations([error], "response", operation, res.status_code)
        return found

    def _undeclared_status(self, operation: str, response: _OpenAPIResponse) -> list[Violation]:
        fields = dict(generation=self.generation, channel="response", operation=operation, status=response.status_code)
        if response.status_code < 500:
            return [Violation(keyword="undeclared-status", message="status not declared for this operation", **fields)]
        try:
            self._error_body.validate(json.loads(response.data or b"null"))
        except ValueError:
            return [Violation(keyword="not-json", message="a 5xx body must be the standard Error", **fields)]
        except InvalidSchemaValue as invalid:
            return schema_violations(invalid.schema_errors, prefix="body", **fields)
        return []

    def _violations(self, errors, channel: Channel, operation: str, status: int) -> list[Violation]:
        fields = dict(generation=self.generation, channel=channel, operation=operation, status=status)
        found: list[Violation] = []
        for error in errors:
            location = _location_of(error)
            cause = error.__cause__
            if isinstance(cause, InvalidSchemaValue):
                found += schema_violations(cause.schema_errors, prefix=location, **fields)
            else:
                detail = f"{error}: {cause}" if cause is not None and str(cause) not in str(error) else str(error)
                found.append(Violation(keyword=type(error).__name__, message=detail, location=location, **fields))
        return found


def _location_of(error: Exception) -> str:
    if isinstance(error, ParameterValidationError):
        return f"{error.location}/{error.name}"
    if isinstance(error, HeaderValidationError):
        return f"header/{error.name}"
    if isinstance(error, SecurityValidationError):
        return "security"
    return "body"


@cache
def openapi_contract(generation: str) -> OpenAPIContract:
    """One parsed document per generation for the whole test session."""
    return OpenAPIContract(generation)
