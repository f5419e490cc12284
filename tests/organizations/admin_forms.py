"""Posting Django admin's organisation form."""

from __future__ import annotations


def organization_admin_form(**fields) -> dict:
    """What Django admin's "add organisation" form posts for Initech, with `fields` on top."""
    return {
        "name": "Initech",
        "slug": "initech",
        "tmi_base_url": "https://tmi.initech.test",
        "identity_providers": "[]",
        "allowed_email_domains": "[]",
        "brand_colour": "#336699",
        "tmi_client_id": "",
        "tmi_max_concurrency": "4",
        "memberships-TOTAL_FORMS": "0",
        "memberships-INITIAL_FORMS": "0",
        **fields,
    }
