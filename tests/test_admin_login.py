"""Django admin's password login locks out a username from an address after repeated failures
(django-axes): the next try is refused even with the right password; other people and addresses go on."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"


@pytest.fixture
def superusers(django_user_model, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast: many attempts
    return [
        django_user_model.objects.create_superuser(name, f"{name}@example.com", PASSWORD) for name in ("root", "other")
    ]


def attempt(username: str, password: str, *, ip: str = "127.0.0.1"):
    client = Client(REMOTE_ADDR=ip)
    response = client.post(
        reverse("admin:login"), {"username": username, "password": password, "next": reverse("admin:index")}
    )
    return response, "_auth_user_id" in client.session


def test_the_sixth_try_is_refused_even_with_the_right_password(superusers):
    assert settings.AXES_FAILURE_LIMIT == 5
    for _ in range(4):
        response, signed_in = attempt("root", "wrong")
        assert response.status_code == 200 and not signed_in
        assert "Please enter the correct username and password" in response.content.decode()
    response, signed_in = attempt("root", "wrong")  # the fifth failure locks out at once
    assert response.status_code == 429 and not signed_in
    response, signed_in = attempt("root", PASSWORD)
    assert response.status_code == 429 and not signed_in
    assert "too many login attempts" in response.content.decode()


def test_a_lock_out_is_for_that_username_from_that_address_only(superusers):
    for _ in range(5):
        attempt("root", "wrong")
    assert attempt("root", PASSWORD)[0].status_code == 429
    other, signed_in = attempt("other", PASSWORD)
    assert other.status_code == 302 and signed_in  # another user, same address
    from axes.models import AccessLog

    assert not AccessLog.objects.exists()  # successes are the audit log's business, not a second log
    elsewhere, signed_in = attempt("root", PASSWORD, ip="10.9.8.7")
    assert elsewhere.status_code == 302 and signed_in  # the same user from elsewhere


def test_the_lock_out_ends_after_the_cool_off(superusers):
    from axes.models import AccessAttempt

    for _ in range(5):
        attempt("root", "wrong")
    assert attempt("root", PASSWORD)[0].status_code == 429
    assert settings.AXES_COOLOFF_TIME == timedelta(minutes=15)
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=16))
    response, signed_in = attempt("root", PASSWORD)
    assert response.status_code == 302 and signed_in
