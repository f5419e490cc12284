"""The live page's socket (static/portal/live/socket.js) in real Chromium: what it does with each close
code of the portal's table (portal/live/closes.py, docs/live-protocol.md "Closing"), and the size check
that keeps it from sending a frame the portal or daphne would refuse.

The WebSocket is replaced by a stand-in whose close codes the test chooses: the portal does not make a
4500 or a 4008 without an `ended` on demand, and the page must act on the code alone."""

from __future__ import annotations

from portal.live.closes import CLOSES, SERVER_CLOSES, closes_for_page

SCRIPT = """async ({closes, codes}) => {
  const { LiveSocket } = await import("/static/portal/live/socket.js");
  const made = [];
  class StandIn extends EventTarget {
    constructor(url) { super(); this.readyState = 0; made.push(this); }
    send() {}
    close() {}
  }
  StandIn.OPEN = 1;
  window.WebSocket = StandIn;
  const seen = [];
  const live = new LiveSocket("ws://127.0.0.1/", {
    onOpen() {}, onFrame() {}, onRetryTick() {},
    onDrop(opened, why) { seen.push({ drop: why }); },
    onEnd(why, code) { seen.push({ end: why, code }); },
  }, { closes, maxFrameBytes: 64 });
  const results = [];
  for (const code of codes) {
    live.retryNow();  // the next attempt at once instead of after the back-off
    if (made.length === 0) live.connect();
    const ws = made[made.length - 1];
    ws.readyState = 1;
    ws.dispatchEvent(new Event("open"));
    ws.readyState = 3;
    ws.dispatchEvent(new CloseEvent("close", { code }));
    results.push({ code, seen: seen.splice(0), reconnecting: live.timer !== null, stopped: live.stopped });
    if (live.stopped) break;
  }
  const fits = codes.length ? null : [live.fits({ type: "resync" }), live.fits({ type: "ops", pad: "é".repeat(30) })];
  return { results, fits, sockets: made.length };
}"""


def run(page, live_portal, codes):
    page.goto(f"{live_portal}/healthz/")
    return page.evaluate(SCRIPT, {"closes": {str(k): v for k, v in closes_for_page().items()}, "codes": codes})


def test_closes_that_allow_it_reconnect_and_say_why(page, live_portal):
    reconnecting = [
        CLOSES["internal_error"].code,
        SERVER_CLOSES["too_large"].code,
        SERVER_CLOSES["server_error"].code,
        SERVER_CLOSES["going_away"].code,
        1006,
    ]
    outcome = run(page, live_portal, reconnecting)
    assert [r["code"] for r in outcome["results"]] == reconnecting
    for result in outcome["results"]:
        assert result["reconnecting"] and not result["stopped"], result
    words = [r["seen"][0]["drop"] for r in outcome["results"]]
    assert words[:4] == [
        str(CLOSES["internal_error"].words),
        str(SERVER_CLOSES["too_large"].words),
        str(SERVER_CLOSES["server_error"].words),
        str(SERVER_CLOSES["going_away"].words),
    ]
    assert "too large" in words[1]
    assert words[4] is None  # a plain network drop: the page's usual "reconnecting" status, no extra words
    assert outcome["sockets"] == len(reconnecting)


def test_closes_that_forbid_it_end_the_page_with_words(page, live_portal):
    for name in ("ended", "policy", "sign_in_required", "tmi_unavailable"):
        close = CLOSES[name]
        outcome = run(page, live_portal, [CLOSES["internal_error"].code, close.code])
        last = outcome["results"][-1]
        assert last["stopped"] and not last["reconnecting"], (name, last)
        assert last["seen"] == [{"end": str(close.words), "code": close.code}], name
        assert outcome["sockets"] == 2  # nothing after the final close


def test_a_frame_over_the_limit_is_never_sent(page, live_portal):
    outcome = run(page, live_portal, [])
    assert outcome["fits"] == [True, False]  # 30 "é" are 60 bytes of UTF-8: over 64 with the rest
