import re

import pytest

from portal.tmi import pkce


def test_verifier_is_43_to_128_unreserved_chars():
    for nbytes in (32, 64, 96):
        verifier = pkce.code_verifier(nbytes)
        assert re.fullmatch(r"[A-Za-z0-9\-._~]{43,128}", verifier)
    assert pkce.code_verifier() != pkce.code_verifier()


def test_verifier_size_outside_the_rfc_range_is_refused():
    with pytest.raises(ValueError):
        pkce.code_verifier(16)


def test_s256_challenge_matches_rfc7636_appendix_b():
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert pkce.code_challenge(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_challenge_has_no_padding_and_rejects_bad_verifiers():
    assert "=" not in pkce.code_challenge(pkce.code_verifier())
    with pytest.raises(ValueError):
        pkce.code_challenge("too-short")
    with pytest.raises(ValueError):
        pkce.code_challenge("a" * 42 + "!")


def test_state_fits_tmis_pattern():
    state = pkce.new_state()
    assert re.fullmatch(r"[a-zA-Z0-9_~.+/=-]{1,256}", state)
    assert state != pkce.new_state()
