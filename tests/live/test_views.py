"""The live diagram page through Django's test client, against the sandbox in both TMI generations: the
first paint (SVG, the socket's address, the cells for the script), the tenant gate and TMI's refusals."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import pytest
from django.urls import reverse

from portal.accounts.models import TMIConnection
from portal.live.closes import CLOSES, SERVER_CLOSES
from portal.tmi.collab.frames import MAX_FRAME_BYTES
from tests.dashboard.conftest import Elements, find_model, sign_in

pytestmark = pytest.mark.django_db(transaction=True)

PAYMENTS = "Customer Payments API"  # seed.py: alice owns it, bob writes, carol reads
WAREHOUSE = "Data Warehouse ETL"  # seed.py: alice has no access
LIVE_SCRIPTS = Path(__file__).resolve().parents[2] / "static" / "portal" / "live"


@pytest.fixture
def alice(client, organization, member_factory):
    user = member_factory(organization, "alice", role="owner")
    sign_in(client, user)
    return user


def first_diagram(sandbox, name: str) -> tuple[dict, dict]:
    tm = find_model(sandbox, name)
    return tm, tm["diagrams"][0]


def live_url(slug: str, tm_id, diagram_id) -> str:
    return reverse("live:diagram", args=[slug, tm_id, diagram_id])


def config_of(html: str) -> dict:
    start = html.index('<script id="live-config" type="application/json">') + len(
        '<script id="live-config" type="application/json">'
    )
    return json.loads(html[start : html.index("</script>", start)])


def test_a_member_gets_the_drawn_diagram_and_the_sockets_address(client, alice, sandbox, generation):
    tm, diagram = first_diagram(sandbox, PAYMENTS)
    response = client.get(live_url("acme", tm["id"], diagram["id"]))
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count('<svg xmlns="http://www.w3.org/2000/svg"') == 1
    drawn = {cell["id"] for cell in diagram["cells"]}
    assert all(f'data-cell-id="{cell_id}"' in html for cell_id in drawn)
    config = config_of(html)
    assert config["socketPath"] == f"/ws/o/acme/threat-models/{tm['id']}/diagrams/{diagram['id']}/live/"
    assert config["generation"] == generation and config["idPrefix"] == "live"
    assert {cell["id"] for cell in config["cells"]} == drawn
    # The script is a module from static files; nothing executable is inline (CSP-friendly).
    assert '<script type="module" src="/static/portal/live/live.js"></script>' in html
    scripts = [attrs for tag, attrs in Elements(html).tags if tag == "script"]
    assert all(a.get("src") or a.get("type") == "application/json" for a in scripts), scripts
    assert reverse("dashboard:threat_model", args=["acme", tm["id"]]) in html


def test_a_hostile_label_is_text_in_the_svg_and_in_the_scripts_data(client, alice, sandbox):
    tm, diagram = first_diagram(sandbox, PAYMENTS)
    hostile = "<img src=x onerror=alert(1)></script><script>alert(2)</script>"
    node = next(cell for cell in diagram["cells"] if cell.get("shape") == "process")
    node["attrs"]["text"]["text"] = hostile
    html = client.get(live_url("acme", tm["id"], diagram["id"])).content.decode()
    assert hostile not in html and "<img" not in html and "alert(2)</script>" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html  # shown as text in the drawing
    labels = [c["attrs"]["text"]["text"] for c in config_of(html)["cells"] if c["id"] == node["id"]]
    assert labels == [hostile]  # and handed to the script intact, as data


def test_anonymous_visitors_are_sent_to_sign_in(client, organization, sandbox):
    tm, diagram = first_diagram(sandbox, PAYMENTS)
    url = live_url("acme", tm["id"], diagram["id"])
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login", args=["acme"]))
    assert "next=" in response["Location"]


def test_a_member_of_another_organisation_gets_404(client, organization, other_organization, member_factory, sandbox):
    carol = member_factory(other_organization, "carol", role="owner")
    sign_in(client, carol)
    tm, diagram = first_diagram(sandbox, PAYMENTS)  # carol may read it at TMI, but not through acme
    response = client.get(live_url("acme", tm["id"], diagram["id"]))
    assert response.status_code == 404
    assert PAYMENTS not in response.content.decode()
    assert client.get(live_url("globex", tm["id"], diagram["id"])).status_code == 200


def test_a_diagram_tmi_does_not_know_gets_the_not_found_page(client, alice, sandbox):
    tm, _ = first_diagram(sandbox, PAYMENTS)
    response = client.get(live_url("acme", tm["id"], uuid.uuid4()))
    assert response.status_code == 404
    html = response.content.decode()
    assert "We could not find that page" in html and "no diagram at this address" in html


def test_a_threat_model_without_access_gets_the_403_page(client, alice, sandbox):
    tm, diagram = first_diagram(sandbox, WAREHOUSE)
    response = client.get(live_url("acme", tm["id"], diagram["id"]))
    assert response.status_code == 403
    html = response.content.decode()
    assert (
        "You don&#x27;t have access to this threat model in TMI" in html
        or "You don't have access to this threat model in TMI" in html
    )
    assert 'data-cell-id="' not in html


def test_a_member_who_must_sign_in_to_tmi_again_is_sent_to_sign_in(client, alice, organization, sandbox):
    TMIConnection.objects.filter(organization=organization, user=alice).update(needs_sign_in=True)
    tm, diagram = first_diagram(sandbox, PAYMENTS)
    response = client.get(live_url("acme", tm["id"], diagram["id"]))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login", args=["acme"]))


def test_the_page_knows_what_each_close_code_means(client, alice, sandbox):
    """The script reads the close codes from the page, from the one table the consumer uses."""
    tm, diagram = first_diagram(sandbox, PAYMENTS)
    config = config_of(client.get(live_url("acme", tm["id"], diagram["id"])).content.decode())
    assert config["closes"] == {
        str(close.code): {"reconnect": close.reconnect, "message": str(close.words)}
        for close in (*CLOSES.values(), *SERVER_CLOSES.values())
    }
    assert config["closes"]["4008"]["reconnect"] is False and config["closes"]["4500"]["reconnect"] is True
    assert config["maxFrameBytes"] == MAX_FRAME_BYTES and config["tooLarge"].endswith(".")


def test_every_word_the_script_shows_comes_from_the_page(client, alice, sandbox):
    """The live page's script looks its words up by key in `config.words` (portal/live/words.py, translated
    there): every key it uses is given, with the placeholders it fills in."""
    tm, diagram = first_diagram(sandbox, PAYMENTS)
    words = config_of(client.get(live_url("acme", tm["id"], diagram["id"])).content.decode())["words"]
    scripts = "\n".join(path.read_text() for path in LIVE_SCRIPTS.glob("*.js"))
    used = set(re.findall(r"""\bt\(\s*"([a-z_]+)"(?:\s*,\s*\{([^}]*)\})?""", scripts))
    assert len(used) > 40
    for key, values in used:
        assert key in words, key
        for name in re.findall(r"(?:^|[{,])\s*(\w+)\s*(?=[:,]|$)", values):
            assert "{" + name + "}" in words[key], (key, name)
    # Keys built from parts: the kinds of shape, the new shapes' names.
    for kind in ("actor", "process", "store", "boundary", "text", "flow", "unknown"):
        assert f"kind_{kind}" in words
    for key in re.findall(r'"(new_[a-z]+)"', scripts):
        assert key in words, key
