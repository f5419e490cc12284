// The live diagram page: keeps the server-drawn diagram live over the portal's socket
// (docs/live-protocol.md), lets writers change it, and shows who is here and who presents.
//
// This module answers the portal's frames and starts the page; the rest is by concern:
//   page.js      config, words (from the template), elements, state, the cells, status and messages
//   render.js    the diagram renderer (a twin of portal/diagrams/, kept equal by tests/browser/test_render_parity.py)
//   view.js      drawing, fit, zoom, pan, full screen, following the presenter
//   editing.js   every change (add, move, resize, rename, connect, remove), undo/redo, selection, tools
//   pointer.js   mouse, pen and touch;  keyboard.js  keys, focus on shapes, the connect menu
//   people.js    who is here, who presents, requests to present, the host leaving
//   socket.js    the reconnecting socket

import { applyOps, channel, clone, config, indexOf, isMe, restore, say, sendFrame, setStatus, state, t, ui } from "./page.js";
import { addNode, applied, canSend, finishRename, flushQueued, historyAnswered, removeSelected, setMode, startRename, undoRedo } from "./editing.js";
import { draw, follow, initView, redraw } from "./view.js";
import { initPointer } from "./pointer.js";
import { closeConnectMenu, initKeyboard } from "./keyboard.js";
import { initPeople, renderPeople, sessionEnded, showRequest } from "./people.js";
import { LiveSocket } from "./socket.js";

const HISTORY_WORDS = { nothing_to_undo: "nothing_to_undo", nothing_to_redo: "nothing_to_redo", not_allowed: "history_not_allowed" };
let upstreamTicker = null;

const handlers = {
  welcome(frame) {
    state.me = frame.me;
    if (frame.generation) state.generation = frame.generation;
    channel.socket.confirmed();
    setStatus("connecting", t("joining"));
  },
  connection(frame) {
    state.upstream = frame.state;
    if (frame.state === "live") { setStatus("live", t("live")); return; }
    state.gotState = false; // wait for the state that follows the bridge's reconnect
    if (state.pending.length) state.uncertain = true;
    if (frame.state === "reconnecting") {
      const until = Date.now() + Number(frame.retry_in || 0) * 1000;
      const tick = () => setStatus("reconnecting", t("tmi_retrying", { attempt: frame.attempt, seconds: Math.max(0, Math.ceil((until - Date.now()) / 1000)) }));
      clearInterval(upstreamTicker);
      tick();
      upstreamTicker = setInterval(() => { if (state.upstream === "reconnecting") tick(); else clearInterval(upstreamTicker); }, 1000);
    } else if (frame.state === "lost") setStatus("lost", t("tmi_lost"));
    else setStatus("connecting", t("tmi_connecting"));
  },
  state(frame) {
    state.cells = Array.isArray(frame.cells) ? clone(frame.cells) : [];
    if (state.uncertain && state.pending.length) say(t("unconfirmed_lost"), "warning");
    state.pending = [];
    state.uncertain = false;
    state.gotState = true;
    if (state.upstream !== "live") { state.upstream = "live"; setStatus("live", t("live")); }
    if (state.selected && indexOf(state.selected) < 0) state.selected = null;
    flushQueued();
    redraw();
  },
  ops(frame) {
    applied(Array.isArray(frame.cells) ? frame.cells : []);
    redraw();
  },
  ack(frame) {
    state.pending = state.pending.filter((p) => p.operation_id !== frame.operation_id);
  },
  rejected(frame) {
    const at = state.pending.findIndex((p) => p.operation_id === frame.operation_id);
    if (at >= 0) {
      const later = state.pending.slice(at + 1);
      for (const entry of [...later].reverse()) restore(entry.previous);
      restore(state.pending[at].previous);
      state.pending.splice(at, 1);
      for (const entry of later) applyOps(entry.cells);
      redraw();
    }
    say(t("change_undone", { message: frame.message || t("change_not_accepted") }), "error");
    // TMI's view is the truth; without a state on its way, ask for one (a rejected remove, say, of a
    // cell someone else removed first, must not bring that cell back here).
    if (!frame.resync) sendFrame({ type: "resync" });
  },
  participants(frame) {
    const first = !state.rosterKnown;
    state.participants = Array.isArray(frame.participants) ? frame.participants.filter((p) => p && p.user) : [];
    state.host = frame.host || null;
    state.presenter = frame.presenter || null;
    const mine = state.participants.find((p) => isMe(p.user));
    if (mine) {
      state.canEdit = mine.can_edit === false ? false : mine.can_edit;
      state.rosterKnown = true;
      // The host alone in a session has just started it: its history is empty.
      if (first && isMe(state.host) && state.participants.length === 1) state.canUndo = false;
    }
    if (!state.presenter || isMe(state.presenter)) state.cursor = null;
    renderPeople();
    redraw();
  },
  presenter_requested(frame) { showRequest(frame.user || null); },
  presenter_denied() { say(t("request_declined"), "warning"); },
  cursor(frame) {
    if (!Number.isFinite(frame.x) || !Number.isFinite(frame.y)) return;
    state.cursor = { x: frame.x, y: frame.y };
    if (ui.follow.checked) follow(); else redraw();
  },
  selection(frame) {
    state.presenterSelection = new Set(Array.isArray(frame.cell_ids) ? frame.cell_ids : []);
    redraw();
    if (ui.follow.checked && !state.cursor) follow();
  },
  history(frame) {
    historyAnswered(frame);
    const key = HISTORY_WORDS[frame.result];
    if (key) say(t(key));
  },
  ended(frame) {
    state.ended = true;
    channel.socket.stop();
    setStatus("ended", t("ended"));
    ui.endedMessage.textContent = frame.message || t("ended");
    sessionEnded(frame);
    ui.ended.hidden = false;
    finishRename(false);
    closeConnectMenu(false);
    setMode(null);
    redraw();
  },
  error(frame) {
    if (frame.code === "not_live") { say(t("not_live"), "warning"); return; }
    say(frame.message || t("refused"), "error");
    // An error names no operation: if one of ours was refused, only a fresh state shows what TMI has.
    if (state.pending.length) sendFrame({ type: "resync" });
  },
};

async function checkStillAllowed() {
  let response;
  try {
    response = await fetch(location.href, { method: "HEAD", redirect: "manual", credentials: "same-origin" });
  } catch (error) {
    return; // offline: keep trying
  }
  if (response.type === "opaqueredirect" || response.status === 403 || response.status === 404) {
    handlers.ended({ message: t("signed_out") });
  }
}

const socketUrl = `${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}${config.socketPath}`;
channel.socket = new LiveSocket(socketUrl, {
  onOpen() { setStatus("connecting", t("joining")); },
  onFrame(frame) {
    const handler = Object.hasOwn(handlers, frame.type) ? handlers[frame.type] : null;
    if (handler) handler(frame);
  },
  onDrop(opened, why) {
    // The portal refuses a socket before it opens when the visitor is signed out or no longer a member;
    // the browser cannot see why, so ask the page itself.
    if (!opened) checkStillAllowed();
    if (why) say(why, "warning"); // the close code's meaning (docs/live-protocol.md, "Closing")
    state.gotState = false;
    state.upstream = "connecting";
    if (state.pending.length) state.uncertain = true;
    state.cursor = null;
  },
  // A close that says not to reconnect, without an `ended` before it (which would have stopped the socket).
  onEnd(why) { handlers.ended({ message: why }); },
  onRetryTick(attempt, seconds) {
    setStatus("reconnecting", t("portal_retrying", { attempt, seconds }));
  },
}, { closes: config.closes || {}, maxFrameBytes: config.maxFrameBytes || Infinity });

// -- buttons --------------------------------------------------------------------------------------------------
for (const button of document.querySelectorAll("[data-add]")) button.addEventListener("click", () => { setMode(null); addNode(button.dataset.add); });
ui.addFlow.addEventListener("click", () => setMode(state.mode === "flow" ? null : "flow"));
ui.rename.addEventListener("click", () => state.selected && startRename(state.selected));
ui.remove.addEventListener("click", removeSelected);
ui.undo.addEventListener("click", () => undoRedo("undo"));
ui.redo.addEventListener("click", () => undoRedo("redo"));
ui.follow.addEventListener("change", follow);
ui.restart.addEventListener("click", () => window.location.reload());
initView();
initPointer();
initKeyboard();
initPeople();

// A handle for people debugging the page (and the browser tests): drop the socket as a network blip would.
window.portalLive = Object.freeze({ dropSocket: () => channel.socket.drop(), get connected() { return canSend(); } });

renderPeople();
draw();
channel.socket.connect();
