// What every part of the live page shares: its config and words (from the template), its elements,
// the page's state, the cells as this page knows them, and the few helpers that speak to people.
// It imports nothing of the page's own, so the other modules can all build on it.

import { cleanDisplayText, el } from "./render.js";

export const config = JSON.parse(document.getElementById("live-config").textContent);

// Every word the script shows comes from the template (portal/live/words.py, translated there), with
// `{name}` placeholders filled in here; a missing key shows itself rather than English.
const WORDS = config.words || {};
export function t(key, values = {}) {
  const text = Object.hasOwn(WORDS, key) ? WORDS[key] : key;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (Object.hasOwn(values, name) ? String(values[name]) : whole));
}

const $ = (id) => document.getElementById(id);
export const ui = {
  status: $("live-status"), statusText: document.querySelector("#live-status .live-status-text"),
  ended: $("live-ended"), endedMessage: document.querySelector("#live-ended .live-ended-message"),
  endedPeople: document.querySelector("#live-ended .live-ended-people"), restart: $("live-restart"),
  reader: $("live-reader-notice"), messages: $("live-messages"), presenting: $("live-presenting"),
  announce: $("live-announce"), tools: $("live-tools"), hint: $("live-hint"),
  board: $("live-board"), viewport: $("live-viewport"), people: $("live-people"), follow: $("live-follow"), ask: $("live-ask"),
  requests: $("live-requests"), addFlow: $("live-add-flow"), rename: $("live-rename"), remove: $("live-remove"),
  connect: $("live-connect"), connectMenu: $("live-connect-menu"),
  undo: $("live-undo"), redo: $("live-redo"),
  zoomIn: $("live-zoom-in"), zoomOut: $("live-zoom-out"), fit: $("live-fit"), fullScreen: $("live-full-screen"),
};
export const svg = ui.viewport.querySelector("svg");
export const cellsLayer = svg.querySelector("g.tmi-cells");

export const clone = (value) => (value === undefined ? undefined : JSON.parse(JSON.stringify(value)));

export const state = {
  cells: clone(config.cells) || [],
  generation: config.generation,
  me: null,
  participants: [], host: null, presenter: null,
  canEdit: null, // null when TMI does not say; only an explicit false makes this page read-only
  rosterKnown: false, // the tools stay hidden until a participants list has named this person
  ended: false,
  upstream: "connecting", // the bridge's socket to TMI
  gotState: false, // a `state` arrived since this socket (or the bridge's) last (re)connected
  pending: [], queued: [],
  uncertain: false, // some pending edits were in flight when a connection dropped
  selected: null, focused: null, presenterSelection: new Set(), cursor: null,
  mode: null, flowSource: null, drag: null,
  extent: null,
  zoom: 1, fitted: false,
  // The session's history as far as this page can tell (TMI keeps one per session and never says how
  // deep it is): `true` until TMI answers "nothing to undo/redo", `false` until something could be undone.
  canUndo: true, canRedo: false,
};

// The page's socket, set once by live.js; sending before it exists (or while it is down) says false.
export const channel = { socket: null };
export const sendFrame = (frame) => Boolean(channel.socket && channel.socket.send(frame));

// -- ids ---------------------------------------------------------------------------------------------------
export function uuid() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

// -- words for people ------------------------------------------------------------------------------------------
export function say(text, kind = "info") {
  const item = document.createElement("p");
  item.className = `live-message live-message-${kind}`;
  item.textContent = text;
  ui.messages.prepend(item);
  while (ui.messages.childElementCount > 4) ui.messages.lastElementChild.remove();
  setTimeout(() => item.remove(), kind === "error" ? 15000 : 8000);
}

// A change made with the keyboard (or by this page's tools), read out by screen readers: one polite
// live region whose text is replaced, so only the latest change is read.
export function announce(text) {
  ui.announce.textContent = "";
  requestAnimationFrame(() => { ui.announce.textContent = text; });
}

export function setStatus(kind, text) {
  ui.status.dataset.state = kind;
  ui.statusText.textContent = text;
}

// Names come from TMI: shown without bidi or control characters, as on the server's pages.
export const personName = (person) => cleanDisplayText((person && (person.name || person.email || person.id)) || t("someone"));
export const isMe = (person) => Boolean(person && state.me && person.id === state.me.id);
export const samePerson = (a, b) => Boolean(a && b && a.id === b.id);

// -- cells ---------------------------------------------------------------------------------------------------
export const indexOf = (id) => state.cells.findIndex((cell) => cell && cell.id === id);
export const cellOf = (id) => state.cells[indexOf(id)];

export function put(cell, index = -1) {
  const at = indexOf(cell.id);
  if (at >= 0) state.cells[at] = cell;
  else if (index >= 0 && index <= state.cells.length) state.cells.splice(index, 0, cell);
  else state.cells.push(cell);
}

// Applies `ops` to the cells; says whether the selected cell went with them.
export function applyOps(ops) {
  let lostSelection = false;
  for (const op of ops) {
    if (!op || typeof op.id !== "string") continue;
    if (op.operation === "remove") {
      const at = indexOf(op.id);
      if (at >= 0) state.cells.splice(at, 1);
      if (state.selected === op.id) lostSelection = true;
    } else if ((op.operation === "add" || op.operation === "update") && op.data && typeof op.data === "object") {
      put({ ...clone(op.data), id: op.id });
    }
  }
  return lostSelection;
}

export function snapshot(ops) {
  const previous = new Map();
  for (const op of ops) if (!previous.has(op.id)) previous.set(op.id, { cell: clone(cellOf(op.id)) || null, index: indexOf(op.id) });
  return previous;
}

export function restore(previous) {
  for (const [id, { cell, index }] of [...previous.entries()].reverse()) {
    if (cell === null) { const at = indexOf(id); if (at >= 0) state.cells.splice(at, 1); } else put(clone(cell), index);
  }
}

export function labelOf(cell) {
  if (Array.isArray(cell.labels)) {
    const first = cell.labels.find((l) => l && l.attrs && l.attrs.text && typeof l.attrs.text.text === "string");
    if (first) return first.attrs.text.text;
  }
  const text = cell.attrs && cell.attrs.text && cell.attrs.text.text;
  return typeof text === "string" ? text : typeof cell.label === "string" ? cell.label : "";
}

// A cell's name for people (announcements, menus, labels of shapes): its label, or its kind.
export function nameOf(cell) {
  const label = cell ? cleanDisplayText(labelOf(cell)).replace(/\s+/g, " ").trim() : "";
  if (label) return label;
  return t(`kind_${cell && typeof cell.shape === "string" && Object.hasOwn(KIND_WORDS, cell.shape) ? KIND_WORDS[cell.shape] : "unknown"}`);
}
const KIND_WORDS = { actor: "actor", process: "process", store: "store", "security-boundary": "boundary", "text-box": "text", flow: "flow", edge: "flow" };
export const kindOf = (cell) => t(`kind_${cell && Object.hasOwn(KIND_WORDS, cell.shape) ? KIND_WORDS[cell.shape] : "unknown"}`);
