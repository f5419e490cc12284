"""Where the real servers' OpenAPI validator names an error `invalid_id` (sic), as seen 2026-12-04."""

from __future__ import annotations

from tests.sandbox.rest_world import Api, error, tm_id


def test_a_date_time_query_parameter_that_is_not_one_is_invalid_id(sandbox):
    """Both generations check the format (0.217.8 too, though it ignores the filter); 0.217's pattern lets
    the time zone out."""
    alice = Api(sandbox, "alice")
    text = error(alice.get("/threat_models", params={"modified_after": "2020-01-01"}), 400, "invalid_id")
    assert text.startswith('error in openapi3filter.RequestError: parameter "modified_after" in query has an error: ')
    assert 'doesn\'t match the format "date-time"' in text
    no_zone = alice.get("/threat_models", params={"modified_after": "2020-01-01T00:00:00"})
    if alice.legacy:
        assert no_zone.status_code == 200
    else:
        error(no_zone, 400, "invalid_id")
    assert alice.get("/threat_models", params={"modified_after": "2020-01-01T00:00:00Z"}).status_code == 200


def test_a_threat_body_that_breaks_the_schema_is_invalid_id_at_18(sandbox_factory):
    alice = Api(sandbox_factory("1.8"), "alice")
    path = f"/threat_models/{tm_id()}"
    text = error(alice.post(f"{path}/threats", {"name": "x", "threat_type": "S"}), 400, "invalid_id")
    assert text.startswith("multiple errors encountered: ")
    # other kinds keep invalid_input
    error(alice.post(f"{path}/documents", {"name": 5, "uri": "https://8.8.8.8/"}), 400, "invalid_input")
