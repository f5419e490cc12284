import pytest

from tests.accounts.flow import portal_client


@pytest.fixture
def browser():
    """A browser on the portal (Django's test client on an allow-listed callback host)."""
    return portal_client()
