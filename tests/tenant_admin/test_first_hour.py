"""Issue 17, tenant admin: the schedule form asks only what the chosen kind and frequency need, the list says
the weekday and the next run in the schedule's own time zone, every admin page's ids are unique, the TMI page
has one address field, the remove confirmation names the organisation, the invitation landing page looks like
the rest and the "not a member" page shows a stranger none of the organisation's navigation."""

from __future__ import annotations

import re
import uuid
from collections import Counter
from datetime import datetime, time, timedelta
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import AnonymousUser
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from portal.exports.models import ExportSchedule
from portal.portfolio.models import StoredThreatModel, VisibleModel, VisibleSet
from portal.portfolio.vocabulary import TM_STATUS_LABELS, TM_STATUSES
from tests.tenant_admin.conftest import client_for, schedule_make

pytestmark = pytest.mark.django_db

KINDS = ["portfolio", "filter", "threat_model"]
FREQUENCIES = ["daily", "weekly", "monthly"]
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


def url(name, *args):
    return reverse(f"tenant_admin:{name}", args=["acme", *args])


class Page(HTMLParser):
    """Every element with its attributes and whether it is shown at first: not inside [hidden], nor inside a
    closed <details> (apart from its <summary>)."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict, bool]] = []
        self._open: list[tuple[str, bool]] = []  # (tag, hides what is inside)
        self.feed(html)

    def _hidden_now(self) -> bool:
        return any(hides for _, hides in self._open)

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        in_closed_details = bool(self._open) and self._open[-1][0] == "details:closed"
        shown = not self._hidden_now() and "hidden" not in attributes
        if in_closed_details and tag != "summary":
            shown = False
        self.elements.append((tag, attributes, shown))
        if tag in VOID:
            return
        if tag == "details" and "open" not in attributes:
            self._open.append(("details:closed", False))
            return
        hides = "hidden" in attributes or (in_closed_details and tag != "summary")
        self._open.append((tag, hides))

    def handle_endtag(self, tag):
        want = "details:closed" if tag == "details" else tag
        for index in range(len(self._open) - 1, -1, -1):
            if self._open[index][0] in (want, tag):
                del self._open[index:]
                return

    def fields_shown(self, form_id: str | None = None) -> list[str]:
        """The names of the form controls a person sees at first (hidden inputs and the CSRF token aside)."""
        return [
            a["name"]
            for tag, a, shown in self.elements
            if tag in ("input", "select", "textarea") and shown and a.get("name") and a.get("type") != "hidden"
        ]

    def ids(self) -> list[str]:
        return [a["id"] for _, a, _ in self.elements if a.get("id")]


def schedule_form(client, **chosen) -> Page:
    page = client.get(url("schedule_create"), chosen)
    assert page.status_code == 200
    return Page(page.content.decode())


def see_models(organization, user, names: list[str]) -> list[str]:
    """Put models in the store and in the member's visible set, as a sync would; returns their TMI ids."""
    visible = VisibleSet.objects.create(organization=organization, user=user, read_at=timezone.now())
    ids = []
    for name in names:
        tm = StoredThreatModel.objects.create(organization=organization, tmi_id=str(uuid.uuid4()), name=name)
        VisibleModel.objects.create(organization=organization, visible_set=visible, threat_model=tm)
        ids.append(tm.tmi_id)
    return ids


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("frequency", FREQUENCIES)
@pytest.mark.parametrize("who", ["admin", "owner"])
def test_the_schedule_form_shows_at_most_nine_fields_and_only_what_the_choice_needs(world, who, kind, frequency):
    # The owner with stored client credentials is the widest case: the service account is offered.
    world.acme.tmi_client_id, world.acme.tmi_client_secret = "tmi_cc_x", "s"
    world.acme.save(update_fields=["tmi_client_id", "tmi_client_secret"])
    page = schedule_form(client_for(world.users[who]), kind=kind, frequency=frequency)
    shown = page.fields_shown()
    assert len(shown) <= 9, shown
    assert ("weekday" in shown) == (frequency == "weekly")
    assert ("day_of_month" in shown) == (frequency == "monthly")
    assert ("threat_model_id" in shown) == (kind == "threat_model")
    assert ("filter_status" in shown) == ("filter_q" in shown) == (kind == "filter")
    assert {"name", "kind", "frequency", "time_of_day", "timezone", "recipients_text"} <= set(shown)


def test_the_form_at_first_is_a_weekly_portfolio_report_with_today_fourteen_fields_down_to_seven(world):
    shown = schedule_form(client_for(world.users["admin"])).fields_shown()
    assert shown == ["name", "kind", "frequency", "weekday", "time_of_day", "timezone", "recipients_text"]


def test_weekday_never_offers_a_dash_and_status_is_a_choice(world):
    html = client_for(world.users["admin"]).get(url("schedule_create")).content.decode()
    weekday = re.search(r'<select name="weekday".*?</select>', html, re.S).group(0)
    assert "—" not in weekday and re.findall(r">(\w+day)<", weekday)[0] == "Monday"
    status = re.search(r'<select name="filter_status".*?</select>', html, re.S).group(0)
    labels = re.findall(r"<option[^>]*>([^<]*)</option>", status)
    assert labels == ["Any status", *[str(TM_STATUS_LABELS[key]) for key in TM_STATUSES]]


def test_the_threat_model_is_picked_by_name_among_the_models_the_admin_sees(world):
    admin = world.users["admin"]
    payments, hostile = see_models(world.acme, admin, ["Payments API", "<script>alert(1)</script> Portal"])
    [hidden_from_admin] = see_models(world.acme, world.users["owner"], ["Owner's secret model"])
    client = client_for(admin)
    html = client.get(url("schedule_create"), {"kind": "threat_model"}).content.decode()
    picker = re.search(r'<select name="threat_model_id".*?</select>', html, re.S).group(0)
    assert f'<option value="{payments}">Payments API</option>' in picker
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Portal" in picker and "<script>alert" not in html
    assert hidden_from_admin not in picker and "secret" not in picker
    assert 'id="threat-model-search"' in html  # the search box (shown by the script; the select works without)
    done = client.post(
        url("schedule_create"),
        {
            "name": "Payments weekly",
            "kind": "threat_model",
            "threat_model_id": payments,
            "frequency": "weekly",
            "weekday": "2",
            "time_of_day": "08:15",
            "timezone": "Europe/Berlin",
            "recipients_text": "bob@example.com",
        },
    )
    assert done.status_code == 302
    schedule = ExportSchedule.objects.get(name="Payments weekly")
    assert str(schedule.threat_model_id) == payments and schedule.weekday == 2 and schedule.run_as == "owner"
    # Editing keeps it chosen, by name.
    edit = client.get(url("schedule_edit", schedule.pk)).content.decode()
    assert f'<option value="{payments}" selected>Payments API</option>' in edit


def test_a_saved_model_the_editor_cannot_see_stays_chosen(world):
    """A schedule made before (or by someone who sees more) keeps its model when an admin saves it."""
    schedule = schedule_make(world.acme, world.users["admin"], "Old one")
    gone = uuid.uuid4()
    ExportSchedule.objects.filter(pk=schedule.pk).update(kind="threat_model", threat_model_id=gone)
    html = client_for(world.users["admin"]).get(url("schedule_edit", schedule.pk)).content.decode()
    assert f'<option value="{gone}" selected>A threat model you cannot see now ({gone})</option>' in html


def next_run_by_hand(*, now: datetime, zone: str, at: time, weekday=None, day=None) -> datetime:
    """Day by day from today in the schedule's zone: the first slot that fits and is still ahead."""
    local = now.astimezone(ZoneInfo(zone))
    for offset in range(0, 40):
        day_ = (local + timedelta(days=offset)).date()
        slot = datetime(day_.year, day_.month, day_.day, at.hour, at.minute, tzinfo=ZoneInfo(zone))
        if slot <= local:
            continue
        if weekday is not None and day_.isoweekday() != weekday + 1:
            continue
        if day is not None and day_.day != day:
            continue
        return slot
    raise AssertionError("no slot")


def test_the_list_shows_the_weekday_and_the_next_run_in_the_schedules_time_zone(world):
    from portal.exports.schedules import export_schedule_update

    weekly = schedule_make(world.acme, world.users["admin"], "Tokyo weekly")
    export_schedule_update(
        schedule=weekly, actor=world.users["admin"], weekday=4, time_of_day=time(6, 45), timezone="Asia/Tokyo"
    )
    monthly = schedule_make(world.acme, world.users["admin"], "New York monthly")
    export_schedule_update(
        schedule=monthly,
        actor=world.users["admin"],
        frequency="monthly",
        day_of_month=3,
        time_of_day=time(23, 30),
        timezone="America/New_York",
    )
    before = timezone.now()
    html = client_for(world.users["admin"]).get(url("schedules")).content.decode()
    rows = {name: row for name, row in re.findall(r"<tr data-schedule=\"\d+\">.*?>([^<]+)</a>(.*?)</tr>", html, re.S)}
    tokyo = next_run_by_hand(now=before, zone="Asia/Tokyo", at=time(6, 45), weekday=4)
    assert "Every week on Friday, 06:45" in rows["Tokyo weekly"]
    assert (
        f'<time datetime="{tokyo.isoformat()}">{tokyo:%a} {tokyo.day} {tokyo:%b %Y}, 06:45</time>'
        in rows["Tokyo weekly"]
    )
    new_york = next_run_by_hand(now=before, zone="America/New_York", at=time(23, 30), day=3)
    assert "Every month on day 3, 23:30" in rows["New York monthly"]
    assert f'datetime="{new_york.isoformat()}"' in rows["New York monthly"]
    assert new_york.tzinfo is not None and "America/New_York" in rows["New York monthly"]
    assert "—" not in rows["Tokyo weekly"]


def test_the_last_run_is_told_in_the_schedules_time_zone(world):
    from portal.exports.models import ExportJob
    from portal.exports.schedules import export_schedule_update

    schedule = schedule_make(world.acme, world.users["admin"], "Tokyo weekly")
    export_schedule_update(schedule=schedule, actor=world.users["admin"], timezone="Asia/Tokyo")
    job = ExportJob.objects.create(organization=world.acme, kind=schedule.kind, schedule=schedule, status="succeeded")
    ExportJob.objects.filter(pk=job.pk).update(created_at=datetime(2026, 12, 1, 22, 10, tzinfo=ZoneInfo("UTC")))
    html = client_for(world.users["admin"]).get(url("schedules")).content.decode()
    row = re.search(r"<tr data-schedule=\"\d+\">.*?Tokyo weekly</a>(.*?)</tr>", html, re.S).group(1)
    assert "2 Dec 2026, 07:10</time> Asia/Tokyo" in row  # 22:10 UTC is 07:10 the next morning in Tokyo


def test_a_paused_schedule_has_no_next_run(world):
    from portal.exports.schedules import export_schedule_pause

    export_schedule_pause(schedule=world.schedule, actor=world.users["owner"], paused=True)
    html = client_for(world.users["owner"]).get(url("schedules")).content.decode()
    assert "not while paused" in html


ADMIN_PAGES = ["members", "connection", "branding", "schedules", "schedule_create", "audit", "health"]


@pytest.mark.parametrize("name", ADMIN_PAGES)
def test_every_id_on_every_admin_page_is_unique_and_every_description_exists(world, name):
    page = client_for(world.users["owner"]).get(url(name))
    assert page.status_code == 200
    parsed = Page(page.content.decode())
    ids = parsed.ids()
    assert [i for i, n in Counter(ids).items() if n > 1] == []
    described = [d for _, a, _ in parsed.elements for d in (a.get("aria-describedby") or "").split()]
    assert [d for d in described if d not in ids] == []
    labelled = [d for _, a, _ in parsed.elements for d in (a.get("aria-labelledby") or "").split()]
    assert [d for d in labelled if d not in ids] == []


def test_every_id_on_a_schedule_edit_page_with_errors_is_unique(world):
    page = client_for(world.users["owner"]).post(
        url("schedule_edit", world.schedule.pk), {"name": "", "kind": "filter", "frequency": "weekly"}
    )
    assert page.status_code == 400
    parsed = Page(page.content.decode())
    ids = parsed.ids()
    assert [i for i, n in Counter(ids).items() if n > 1] == []
    described = [d for _, a, _ in parsed.elements for d in (a.get("aria-describedby") or "").split()]
    assert described and [d for d in described if d not in ids] == []


def test_the_tmi_page_has_one_address_field_for_test_and_save(world):
    html = client_for(world.users["owner"]).get(url("connection")).content.decode()
    assert len(re.findall(r"<label[^>]*>TMI server address</label>", html)) == 1
    assert len(re.findall(r'name="tmi_base_url"', html)) == 1
    test_button = re.search(r'<button[^>]*formaction="([^"]+)"[^>]*>Test connection</button>', html)
    assert test_button and test_button.group(1) == url("connection_test")


def test_testing_an_address_keeps_it_in_the_one_field(world):
    page = client_for(world.users["owner"]).post(url("connection_test"), {"tmi_base_url": "http://127.0.0.1:9"})
    html = page.content.decode()
    assert page.status_code == 200 and "Not reachable" in html
    assert re.findall(r'name="tmi_base_url"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="tmi_base_url"', html)
    assert 'value="http://127.0.0.1:9"' in html and len(re.findall(r'name="tmi_base_url"', html)) == 1
    bad = client_for(world.users["owner"]).post(url("connection_test"), {"tmi_base_url": "not a url at all"})
    assert bad.status_code == 400 and "Enter a valid URL" in bad.content.decode()
    assert 'value="not a url at all"' in bad.content.decode()


def test_the_remove_confirmation_names_the_organisation(world):
    html = client_for(world.users["owner"]).get(url("members")).content.decode()
    assert 'data-confirm="Remove dave@example.com from Acme?"' in html
    assert "from ?" not in html


def test_a_new_invitation_link_has_a_copy_button(world):
    client = client_for(world.users["owner"])
    done = client.post(url("invite"), {"email": "zed@example.com", "role": "member"}, follow=True)
    html = done.content.decode()
    assert 'id="invitation-link"' in html
    assert re.search(r'<button type="button"[^>]*data-copy="invitation-link"[^>]*>Copy</button>', html)


@pytest.mark.parametrize("count", [1, 2])
def test_sign_in_options_are_counted_in_english(count):
    from django.utils.translation import ngettext

    from portal.tenant_admin import connection

    words = ngettext(
        "Connected to TMI %(version)s (generation %(generation)s) in %(ms)s ms; it offers %(count)s sign-in option.",
        "Connected to TMI %(version)s (generation %(generation)s) in %(ms)s ms; it offers %(count)s sign-in options.",
        count,
    ) % {"version": "1.8", "generation": "1.8", "ms": 3, "count": count}
    assert words.endswith("1 sign-in option." if count == 1 else "2 sign-in options.")
    assert "option(s)" not in open(connection.__file__).read()


def test_the_sandbox_report_counts_its_sign_in_options_in_english(sandbox, generation):
    from portal.tenant_admin.connection import tmi_server_check

    report = tmi_server_check(base_url=sandbox.base_url)
    n = len(report.providers)
    assert n >= 1 and "(s)" not in report.summary
    assert report.summary.endswith(f"it offers {n} sign-in option{'' if n == 1 else 's'}.")


def test_the_invitation_landing_page_is_styled_like_the_rest(world):
    from portal.organizations.services import invitation_create

    _, token = invitation_create(organization=world.acme, email="ann@example.com", invited_by=world.users["owner"])
    page = client_for(None).get(reverse("accounts:invitation", args=[token]))
    html = page.content.decode()
    assert page.status_code == 200
    assert 'class="site-header"' in html and 'id="main"' in html and 'class="card signin-card"' in html
    assert 'class="provider-button">Sign in to accept' in html
    expires = world.acme.invitations.get(email="ann@example.com").expires_at
    assert f'datetime="{expires.isoformat()}" data-local-time' in html  # the script writes it in the reader's zone
    assert "portal/local_time.js" in html


def test_the_not_a_member_page_shows_a_stranger_none_of_the_organisations_navigation(world):
    """globex's owner, signed in to the portal, is refused at acme: acme's name, but none of its pages."""
    request = RequestFactory().get("/o/acme/login/")
    request.user = world.users["outsider"]
    request.membership = None
    request.csp_nonce = "n"
    html = render_to_string(
        "accounts/not_member.html",
        {"organization": world.acme, "email": "carol@example.com", "invitation_email": ""},
        request=request,
    )
    assert "You are not a member of Acme" in html
    for page in ("dashboard:portfolio", "dashboard:threat_models", "dashboard:threats", "exports:list"):
        assert f'href="{reverse(page, args=["acme"])}"' not in html
    assert 'class="site-nav"' not in html
    request.user = AnonymousUser()
    assert 'class="site-nav"' not in render_to_string(
        "accounts/not_member.html", {"organization": world.acme, "email": "x@example.com"}, request=request
    )


@pytest.mark.parametrize("frequency", FREQUENCIES)
def test_editing_shows_the_saved_choice_and_folds_paused_away(world, frequency):
    from portal.exports.schedules import export_schedule_update

    schedule = schedule_make(world.acme, world.users["owner"], "Filtered")
    days = {"weekly": {"weekday": 3}, "monthly": {"day_of_month": 9}, "daily": {}}[frequency]
    export_schedule_update(
        schedule=schedule, actor=world.users["owner"], kind="filter", filters={"status": "approved"},
        frequency=frequency, **days,
    )  # fmt: skip
    page = client_for(world.users["owner"]).get(url("schedule_edit", schedule.pk))
    parsed = Page(page.content.decode())
    shown = parsed.fields_shown()
    assert len(shown) <= 9 and "paused" not in shown and "filter_status" in shown, shown
    assert ("weekday" in shown) == (frequency == "weekly") and ("day_of_month" in shown) == (frequency == "monthly")
    assert any(tag == "input" and a.get("name") == "paused" for tag, a, _ in parsed.elements)  # under More options
    assert '<option value="approved" selected>Approved</option>' in page.content.decode()
