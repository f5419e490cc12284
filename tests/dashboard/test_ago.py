""" "Updated from TMI ... ": just now under a minute, never "0 minutes ago"."""

from __future__ import annotations

from datetime import timedelta

from django.template import Context, Template
from django.utils import timezone

from portal.dashboard.templatetags.dashboard import ago


def test_under_a_minute_is_just_now_and_later_counts_minutes():
    now = timezone.now()
    assert ago(now, now) == "just now"
    assert ago(now - timedelta(seconds=59), now) == "just now"
    assert ago(now - timedelta(minutes=1), now) == "1\xa0minute ago"
    assert ago(now - timedelta(hours=2, minutes=5), now) == "2\xa0hours, 5\xa0minutes ago"


def test_the_freshness_line_of_a_page_just_updated_says_just_now():
    html = Template(
        "{% load i18n dashboard %}{% blocktranslate with ago=updated|ago %}Updated from TMI {{ ago }}.{% endblocktranslate %}"
    ).render(Context({"updated": timezone.now()}))
    assert html == "Updated from TMI just now."
    assert "0\xa0minutes" not in html
