"""The README's screenshots come from a signed-in walk through acme's pages."""

import struct

from portal.devtools.demo_seed import demo_seed
from portal.devtools.screenshots import readme_screenshots_take


def png_size(path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", path
    return struct.unpack(">II", header[16:24])


def test_takes_the_overview_the_list_and_a_threat_model(sandbox_factory, live_portal, page, tmp_path):
    demo_seed(tmi_url=sandbox_factory("1.8").base_url)

    shots = readme_screenshots_take(page, portal_url=live_portal, out_dir=tmp_path)

    assert [shot.name for shot in shots] == ["portfolio.png", "threat-models.png", "threat-model.png"]
    for shot in shots:
        width, height = png_size(shot)
        assert width == 1280 and height >= 600, shot
    assert page.locator("figure.diagram svg g.tmi-node").count() > 0  # the last one shows a diagram
