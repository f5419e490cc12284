// The live diagram page: keeps the server-drawn diagram live over the portal's socket
// (docs/live-protocol.md), lets writers change it, and shows who is here and who presents.
//
// The cells are the truth as far as this page knows: a list of X6 cells exactly as TMI stores them.
// Each local edit is applied at once, sent as `ops` and kept as pending with the cells it replaced,
// until `ack` (forget it) or `rejected` (put the old cells back). A `state` replaces everything.
// Edits made while there is no `state` to build on (before the first, during a reconnect) wait in
// `queued` and are sent once it arrives.

import { cleanDisplayText, drawCells, emptyNote, el, fitViewBox, expand, MARGIN, Markers, nodeBox, SVG_NS, visibleParts } from "./render.js";
import { LiveSocket } from "./socket.js";

const config = JSON.parse(document.getElementById("live-config").textContent);
const $ = (id) => document.getElementById(id);
const ui = {
  status: $("live-status"), statusText: document.querySelector("#live-status .live-status-text"),
  ended: $("live-ended"), endedMessage: document.querySelector("#live-ended .live-ended-message"), restart: $("live-restart"),
  reader: $("live-reader-notice"), messages: $("live-messages"), tools: $("live-tools"), hint: $("live-hint"),
  viewport: $("live-viewport"), people: $("live-people"), follow: $("live-follow"), ask: $("live-ask"),
  requests: $("live-requests"), addFlow: $("live-add-flow"), rename: $("live-rename"), remove: $("live-remove"),
  undo: $("live-undo"), redo: $("live-redo"),
};
const svg = ui.viewport.querySelector("svg");
const cellsLayer = svg.querySelector("g.tmi-cells");
const overlay = el("g", { class: "live-overlay" });
svg.appendChild(overlay);

const clone = (value) => (value === undefined ? undefined : JSON.parse(JSON.stringify(value)));
const state = {
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
  selected: null, presenterSelection: new Set(), cursor: null,
  mode: null, flowSource: null, drag: null,
  extent: null,
};

// -- ids ---------------------------------------------------------------------------------------------------
function uuid() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

// -- words ---------------------------------------------------------------------------------------------------
function say(text, kind = "info") {
  const item = document.createElement("p");
  item.className = `live-message live-message-${kind}`;
  item.textContent = text;
  ui.messages.prepend(item);
  while (ui.messages.childElementCount > 4) ui.messages.lastElementChild.remove();
  setTimeout(() => item.remove(), kind === "error" ? 15000 : 8000);
}

function setStatus(kind, text) {
  ui.status.dataset.state = kind;
  ui.statusText.textContent = text;
}

// Names come from TMI: shown without bidi or control characters, as on the server's pages.
const personName = (person) => cleanDisplayText((person && (person.name || person.email || person.id)) || "Someone");
const isMe = (person) => Boolean(person && state.me && person.id === state.me.id);

// -- cells ---------------------------------------------------------------------------------------------------
const indexOf = (id) => state.cells.findIndex((cell) => cell && cell.id === id);
const cellOf = (id) => state.cells[indexOf(id)];

function put(cell, index = -1) {
  const at = indexOf(cell.id);
  if (at >= 0) state.cells[at] = cell;
  else if (index >= 0 && index <= state.cells.length) state.cells.splice(index, 0, cell);
  else state.cells.push(cell);
}

function applyOps(ops) {
  for (const op of ops) {
    if (!op || typeof op.id !== "string") continue;
    if (op.operation === "remove") {
      const at = indexOf(op.id);
      if (at >= 0) state.cells.splice(at, 1);
      if (state.selected === op.id) select(null);
    } else if ((op.operation === "add" || op.operation === "update") && op.data && typeof op.data === "object") {
      put({ ...clone(op.data), id: op.id });
    }
  }
}

function snapshot(ops) {
  const previous = new Map();
  for (const op of ops) if (!previous.has(op.id)) previous.set(op.id, { cell: clone(cellOf(op.id)) || null, index: indexOf(op.id) });
  return previous;
}

function restore(previous) {
  for (const [id, { cell, index }] of [...previous.entries()].reverse()) {
    if (cell === null) { const at = indexOf(id); if (at >= 0) state.cells.splice(at, 1); } else put(clone(cell), index);
  }
}

const canSend = () => socket.open && state.gotState && state.upstream === "live" && !state.ended;

// The portal refuses frames over 32 KiB and `ops` over 200 cells (docs/live-protocol.md): a big change
// (a boundary moved with everything in it) goes as several operations.
const MAX_FRAME_CHARS = 24000;
const MAX_OPS = 200;

function chunks(ops) {
  const result = [[]];
  let size = 0;
  for (const op of ops) {
    const length = JSON.stringify(op).length;
    const current = result[result.length - 1];
    if (current.length && (current.length >= MAX_OPS || size + length > MAX_FRAME_CHARS)) { result.push([op]); size = length; }
    else { current.push(op); size += length; }
  }
  return result;
}

// One change by this page: shown at once, sent (or queued), remembered until TMI answers.
function edit(ops, previous = null) {
  if (!ops.length || state.ended || state.canEdit === false) return;
  const before = previous || snapshot(ops);
  applyOps(ops);
  for (const part of chunks(ops)) {
    const entry = { operation_id: uuid(), cells: part, previous: new Map(part.map((op) => [op.id, before.get(op.id)])) };
    if (canSend()) send(entry); else state.queued.push(entry);
  }
  redraw();
}

function send(entry) {
  const frame = { type: "ops", operation_id: entry.operation_id, cells: entry.cells };
  if (!socket.fits(frame)) { // one cell too big for any frame: undone here, as the portal would refuse it
    restore(entry.previous);
    say(config.tooLarge, "error");
    redraw();
    return;
  }
  socket.send(frame);
  state.pending.push(entry);
}

function flushQueued() {
  const waiting = state.queued;
  state.queued = [];
  for (const entry of waiting) {
    entry.previous = snapshot(entry.cells); // rebuilt on the state that just arrived
    applyOps(entry.cells);
    send(entry);
  }
}

// -- drawing -------------------------------------------------------------------------------------------------
let drawScheduled = false;
function redraw() {
  if (drawScheduled) return;
  drawScheduled = true;
  queueMicrotask(() => { drawScheduled = false; draw(); });
}

let lastDraw = null;
function draw() {
  const markers = new Markers(config.idPrefix);
  const highlight = new Set(state.presenterSelection);
  const { fragments, nodes } = drawCells(state.cells, markers, highlight);
  cellsLayer.replaceChildren(...fragments.map((f) => f.element));
  let defs = svg.querySelector(":scope > defs");
  if (!defs) { defs = document.createElementNS(SVG_NS, "defs"); svg.insertBefore(defs, cellsLayer); }
  defs.replaceChildren(...markers.elements());
  const content = fitViewBox(fragments.flatMap((f) => f.boxes), MARGIN);
  if (!fragments.length) cellsLayer.replaceChildren(emptyNote(content));
  let extent = content;
  if (state.drag && state.extent) extent = union(extent, state.extent); // no jumping under the pointer
  if (state.cursor) {
    // A pointer far outside the drawing is shown at its edge: the canvas does not grow without bound.
    const room = expand(content, 200);
    state.cursor = { x: Math.min(Math.max(state.cursor.x, room.x), room.right), y: Math.min(Math.max(state.cursor.y, room.y), room.bottom) };
    extent = union(extent, expand(pointBox(state.cursor), 40));
  }
  state.extent = extent;
  svg.setAttribute("viewBox", [extent.x, extent.y, extent.width, extent.height].map(round).join(" "));
  svg.setAttribute("width", round(extent.width));
  svg.setAttribute("height", round(extent.height));
  lastDraw = { fragments, nodes };
  for (const f of fragments) if (f.cellId === state.selected) f.element.classList.add("live-selected");
  drawOverlay();
  updateTools();
}

const round = (v) => String(Math.round(v * 100) / 100);
const pointBox = (p) => ({ x: p.x, y: p.y, width: 0, height: 0, right: p.x, bottom: p.y });
function union(a, b) {
  const x = Math.min(a.x, b.x), y = Math.min(a.y, b.y);
  const right = Math.max(a.x + a.width, b.x + b.width), bottom = Math.max(a.y + a.height, b.y + b.height);
  return { x, y, width: right - x, height: bottom - y, right, bottom };
}

// The presenter's pointer is one element, moved rather than redrawn, so it never blinks.
const cursorLabel = el("text", { x: 16, y: 30 });
const cursorMark = el("g", { class: "live-cursor" }, [el("path", { d: "M0 0L0 18L5 13.5L8.5 21L11.5 19.5L8 12.5L14 12.5Z" }), cursorLabel]);

function drawOverlay() {
  const parts = [];
  const node = state.selected && lastDraw ? lastDraw.nodes.get(state.selected) : null;
  if (node) {
    const b = expand(nodeBox(node), 4);
    parts.push(el("rect", { class: "live-selection", x: b.x, y: b.y, width: b.width, height: b.height, rx: 6 }));
    if (editable()) parts.push(el("rect", { class: "live-handle", "data-handle": "resize", x: b.right - 6, y: b.bottom - 6, width: 12, height: 12, rx: 2 }));
  }
  if (state.cursor && state.presenter && !isMe(state.presenter)) {
    const x = round(state.cursor.x), y = round(state.cursor.y);
    cursorMark.setAttribute("transform", `translate(${x} ${y})`);
    cursorMark.dataset.x = x;
    cursorMark.dataset.y = y;
    cursorLabel.textContent = personName(state.presenter);
    parts.push(cursorMark);
  }
  overlay.replaceChildren(...parts);
  svg.appendChild(overlay);
}

// -- following the presenter ------------------------------------------------------------------------------
function reveal(target) {
  const matrix = svg.getScreenCTM();
  if (!matrix) return;
  const area = ui.viewport.getBoundingClientRect();
  const a = new DOMPoint(target.x, target.y).matrixTransform(matrix);
  const b = new DOMPoint(target.x + target.width, target.y + target.height).matrixTransform(matrix);
  const margin = 40;
  if (a.x < area.left + margin || b.x > area.right - margin) {
    ui.viewport.scrollLeft += (a.x + b.x) / 2 - (area.left + area.width / 2);
  }
  if (a.y < area.top + margin || b.y > area.bottom - margin) {
    ui.viewport.scrollTop += (a.y + b.y) / 2 - (area.top + area.height / 2);
  }
}

function follow() {
  if (!ui.follow.checked || !state.presenter || isMe(state.presenter)) return;
  draw(); // the canvas must already include what we scroll to
  if (state.cursor) { reveal(pointBox(state.cursor)); return; }
  const boxes = lastDraw.fragments.filter((f) => state.presenterSelection.has(f.cellId)).flatMap((f) => f.boxes);
  if (boxes.length) reveal(fitViewBox(boxes, 0));
}

// -- people ---------------------------------------------------------------------------------------------------
function renderPeople() {
  const items = state.participants.map(({ user, can_edit: canEdit }) => {
    const li = document.createElement("li");
    li.className = "live-person";
    li.dataset.userId = user.id;
    const name = document.createElement("span");
    name.className = "live-person-name";
    name.textContent = personName(user) + (isMe(user) ? " (you)" : "");
    li.append(name);
    const badge = (text, kind) => { const b = document.createElement("span"); b.className = `live-badge live-badge-${kind}`; b.textContent = text; li.append(b); };
    if (state.host && user.id === state.host.id) badge("host", "host");
    if (state.presenter && user.id === state.presenter.id) badge("presenting", "presenter");
    badge(canEdit === false ? "watching" : canEdit ? "can edit" : "role not known", canEdit === false ? "reader" : "writer");
    if (isMe(state.host) && !isMe(user) && !(state.presenter && user.id === state.presenter.id) && !state.ended) {
      const hand = document.createElement("button");
      hand.type = "button";
      hand.className = "button button-quiet live-hand-over";
      hand.textContent = "Let present";
      hand.setAttribute("aria-label", `Let ${personName(user)} present`);
      hand.addEventListener("click", () => socket.send({ type: "grant_presenter", user_id: user.id }));
      li.append(hand);
    }
    return li;
  });
  if (!items.length) { const li = document.createElement("li"); li.className = "meta"; li.textContent = "Nobody else is here yet."; items.push(li); }
  ui.people.replaceChildren(...items);
  const presenting = isMe(state.presenter);
  ui.ask.hidden = presenting || state.ended;
  ui.follow.closest("label").hidden = presenting;
}

function showRequest(user) {
  const card = document.createElement("div");
  card.className = "live-request";
  const words = document.createElement("p");
  words.textContent = user ? `${personName(user)} asked to present.` : "Someone asked to present.";
  card.append(words);
  const button = (text, onClick) => {
    const b = document.createElement("button");
    b.type = "button"; b.className = "button"; b.textContent = text;
    b.addEventListener("click", () => { onClick(); card.remove(); });
    card.append(b);
  };
  if (user) {
    button("Accept", () => socket.send({ type: "grant_presenter", user_id: user.id }));
    button("Decline", () => socket.send({ type: "deny_presenter", user_id: user.id }));
  } else {
    // TMI 0.217 does not say who asked: the host picks the person in the list ("Let present").
    words.textContent += " TMI does not say who: use “Let present” beside their name.";
    button("Dismiss", () => {});
  }
  ui.requests.append(card);
}

// -- the tools -------------------------------------------------------------------------------------------------
// Hidden until the roster has named us, so a reader never sees tools flash up and vanish.
const editable = () => state.rosterKnown && state.canEdit !== false && !state.ended;

function updateTools() {
  const readOnly = !editable();
  ui.tools.hidden = readOnly;
  ui.hint.hidden = readOnly;
  ui.reader.hidden = !(state.canEdit === false && !state.ended);
  ui.rename.disabled = ui.remove.disabled = !state.selected;
  ui.addFlow.setAttribute("aria-pressed", String(state.mode === "flow"));
  ui.viewport.classList.toggle("live-editable", !readOnly);
}

// Only the overlay and one class change: the cells' elements stay, so a double-click lands on the
// element its first click selected.
function select(id) {
  if (state.selected === id) return;
  state.selected = id;
  if (isMe(state.presenter)) socket.send({ type: "selection", cell_ids: id ? [id] : [] });
  for (const g of cellsLayer.querySelectorAll(":scope > [data-cell-id]")) g.classList.toggle("live-selected", g.getAttribute("data-cell-id") === id);
  drawOverlay();
  updateTools();
}

const NODE_LOOKS = { // as TMI-UX and the sandbox's seed draw new shapes
  actor: [{ fill: "#FFFFFF", stroke: "#333333", strokeWidth: 2 }, [120, 60], "External actor"],
  process: [{ fill: "#E3F2FD", stroke: "#1565C0", strokeWidth: 2 }, [160, 70], "Process"],
  store: [{ fill: "#FFF8E1", stroke: "#F57F17", strokeWidth: 2 }, [160, 60], "Data store"],
  "security-boundary": [{ fill: "#FAFAFA", stroke: "#C62828", strokeWidth: 2, strokeDasharray: "6,4" }, [320, 220], "Trust boundary"],
};
const SIDES = ["top", "right", "bottom", "left"];

function viewCentre() {
  const matrix = svg.getScreenCTM();
  const area = ui.viewport.getBoundingClientRect();
  if (!matrix) return { x: 100, y: 100 };
  return new DOMPoint(area.left + area.width / 2, area.top + area.height / 2).matrixTransform(matrix.inverse());
}

// Where a new shape goes: the middle of what is in view, or the nearest free place around it (a
// boundary may go over other shapes, it is a background).
function freeSpot(shape, width, height) {
  const centre = viewCentre();
  const taken = [...visibleParts(state.cells)[0].values()].filter((n) => n.kind !== "boundary").map((n) => expand(nodeBox(n), 12));
  const clear = (x, y) => shape === "security-boundary" || !taken.some((b) => x < b.right && b.x < x + width && y < b.bottom && b.y < y + height);
  for (let ring = 0; ring < 12; ring++) {
    for (let i = 0; i < Math.max(1, ring * 8); i++) {
      const angle = (2 * Math.PI * i) / Math.max(1, ring * 8);
      const x = Math.round(centre.x - width / 2 + Math.cos(angle) * ring * 40), y = Math.round(centre.y - height / 2 + Math.sin(angle) * ring * 40);
      if (clear(x, y)) return { x, y };
    }
  }
  return { x: Math.round(centre.x - width / 2), y: Math.round(centre.y - height / 2) };
}

function addNode(shape) {
  const [body, [width, height], label] = NODE_LOOKS[shape];
  const id = uuid();
  const cell = {
    id, shape, position: freeSpot(shape, width, height),
    size: { width, height }, angle: 0,
    attrs: { body: { ...body }, text: { text: label, fontSize: 12, fill: "#212121" } },
    zIndex: shape === "security-boundary" ? 1 : 2, data: { _metadata: [] },
  };
  if (shape !== "security-boundary") {
    cell.ports = { groups: Object.fromEntries(SIDES.map((s) => [s, { position: s }])), items: SIDES.map((s) => ({ id: uuid(), group: s })) };
  }
  if (state.generation !== "0.217") cell.data.security_boundary = shape === "security-boundary";
  edit([{ id, operation: "add", data: cell }]);
  select(id);
}

const centreOf = (n) => [n.x + n.width / 2, n.y + n.height / 2];
function facingPorts(source, target) {
  const [sx, sy] = centreOf(source), [tx, ty] = centreOf(target);
  if (Math.abs(tx - sx) >= Math.abs(ty - sy)) return tx > sx ? ["right", "left"] : ["left", "right"];
  return ty > sy ? ["bottom", "top"] : ["top", "bottom"];
}
const portOn = (node, side) => Object.keys(node.ports).find((id) => node.ports[id] === side) || null;

function addFlow(sourceId, targetId) {
  const nodes = visibleParts(state.cells)[0];
  const source = nodes.get(sourceId), target = nodes.get(targetId);
  if (!source || !target) return;
  const [out, into] = facingPorts(source, target);
  const end = (node, side) => { const port = portOn(node, side); return port ? { cell: node.id, port } : { cell: node.id }; };
  const id = uuid();
  edit([{ id, operation: "add", data: {
    id, shape: state.generation === "0.217" ? "edge" : "flow", source: end(source, out), target: end(target, into),
    attrs: { line: { stroke: "#455A64", strokeWidth: 1.5, targetMarker: { name: "classic", size: 8 } } },
    labels: [{ position: 0.5, attrs: { text: { text: "Data flow", fontSize: 11 } } }], zIndex: 3, data: { _metadata: [] },
  } }]);
  select(id);
}

function setMode(mode) {
  state.mode = mode;
  state.flowSource = null;
  ui.hint.textContent = mode === "flow" ? "Click the shape the data comes from." : defaultHint;
  updateTools();
}

function removeSelected() {
  const id = state.selected;
  const cell = id && cellOf(id);
  if (!cell || !editable()) return;
  const attached = state.cells.filter((c) => c.id !== id && [c.source, c.target].some((end) => end === id || (end && end.cell === id)));
  edit([...attached.map((c) => ({ id: c.id, operation: "remove" })), { id, operation: "remove" }]);
  select(null);
}

function labelOf(cell) {
  if (Array.isArray(cell.labels)) {
    const first = cell.labels.find((l) => l && l.attrs && l.attrs.text && typeof l.attrs.text.text === "string");
    if (first) return first.attrs.text.text;
  }
  const t = cell.attrs && cell.attrs.text && cell.attrs.text.text;
  return typeof t === "string" ? t : typeof cell.label === "string" ? cell.label : "";
}

function withLabel(cell, value) {
  const next = clone(cell);
  if (next.source !== undefined && next.target !== undefined && !next.position) {
    const labels = Array.isArray(next.labels) ? next.labels : [];
    const first = labels.find((l) => l && typeof l === "object");
    if (first) { first.attrs = first.attrs || {}; first.attrs.text = { ...(first.attrs.text || {}), text: value }; }
    else labels.push({ position: 0.5, attrs: { text: { text: value } } });
    next.labels = labels;
  } else {
    next.attrs = next.attrs && typeof next.attrs === "object" ? next.attrs : {};
    next.attrs.text = { ...(next.attrs.text && typeof next.attrs.text === "object" ? next.attrs.text : {}), text: value };
  }
  if (typeof next.label === "string") next.label = value;
  return next;
}

let renaming = null;
function startRename(id) {
  const cell = cellOf(id);
  const fragment = lastDraw && lastDraw.fragments.find((f) => f.cellId === id);
  if (!cell || !fragment || !editable()) return;
  finishRename(false);
  const matrix = svg.getScreenCTM();
  const b = fitViewBox(fragment.boxes, 0);
  const area = ui.viewport.getBoundingClientRect();
  const topLeft = new DOMPoint(b.x, b.y).matrixTransform(matrix);
  const input = document.createElement("input");
  input.type = "text";
  input.className = "live-rename-input";
  input.value = labelOf(cell);
  input.setAttribute("aria-label", "New name");
  input.style.left = `${topLeft.x - area.left + ui.viewport.scrollLeft}px`;
  input.style.top = `${topLeft.y - area.top + ui.viewport.scrollTop + Math.max(0, b.height / 2 - 16)}px`;
  input.style.width = `${Math.max(140, b.width)}px`;
  renaming = { id, input };
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter") { event.preventDefault(); finishRename(true); }
    if (event.key === "Escape") { event.preventDefault(); finishRename(false); }
    event.stopPropagation();
  });
  input.addEventListener("blur", () => finishRename(true));
  ui.viewport.append(input);
  input.focus();
  input.select();
}

function finishRename(keep) {
  if (!renaming) return;
  const { id, input } = renaming;
  renaming = null;
  input.remove();
  const cell = cellOf(id);
  if (keep && cell && input.value !== labelOf(cell)) edit([{ id, operation: "update", data: withLabel(cell, input.value) }]);
}

// -- pointer -------------------------------------------------------------------------------------------------
function toDiagram(event) {
  const matrix = svg.getScreenCTM();
  return new DOMPoint(event.clientX, event.clientY).matrixTransform(matrix.inverse());
}

const cellIdAt = (target) => { const g = target.closest && target.closest("g.tmi-cells [data-cell-id]"); return g ? g.getAttribute("data-cell-id") : null; };

function descendants(id) {
  const found = [id];
  for (let i = 0; i < found.length; i++) for (const c of state.cells) if (c.parent === found[i] && !found.includes(c.id)) found.push(c.id);
  return found;
}

svg.addEventListener("pointerdown", (event) => {
  if (event.button !== 0) return;
  const at = toDiagram(event);
  if (event.target.closest("[data-handle=resize]") && state.selected && editable()) {
    state.drag = { kind: "resize", start: at, moved: false, originals: new Map([[state.selected, clone(cellOf(state.selected))]]) };
    svg.setPointerCapture(event.pointerId);
    return;
  }
  const id = cellIdAt(event.target);
  if (state.mode === "flow") {
    const nodes = visibleParts(state.cells)[0];
    if (!id || !nodes.has(id)) return;
    if (!state.flowSource) { state.flowSource = id; select(id); ui.hint.textContent = "Now click the shape the data goes to."; return; }
    if (id !== state.flowSource) { const source = state.flowSource; setMode(null); addFlow(source, id); }
    return;
  }
  select(id);
  const nodes = visibleParts(state.cells)[0];
  if (id && nodes.has(id) && editable()) {
    state.drag = { kind: "move", start: at, moved: false, originals: new Map(descendants(id).map((d) => [d, clone(cellOf(d))])) };
    svg.setPointerCapture(event.pointerId);
  }
});

function moveBy(cell, dx, dy) {
  if (cell.position && typeof cell.position === "object") return { ...cell, position: { ...cell.position, x: Math.round(cell.position.x + dx), y: Math.round(cell.position.y + dy) } };
  if (typeof cell.x === "number") return { ...cell, x: Math.round(cell.x + dx), y: Math.round(cell.y + dy) };
  return cell;
}

function resizeBy(cell, dx, dy) {
  const size = cell.size && typeof cell.size === "object" ? cell.size : { width: cell.width, height: cell.height };
  const width = Math.max(20, Math.round((Number(size.width) || 120) + dx)), height = Math.max(20, Math.round((Number(size.height) || 60) + dy));
  if (cell.size && typeof cell.size === "object") return { ...cell, size: { ...cell.size, width, height } };
  return { ...cell, width, height };
}

let lastCursorSent = 0, cursorTimer = null, cursorLatest = null;
function sendCursor(point) {
  cursorLatest = { type: "cursor", x: Math.round(point.x * 10) / 10, y: Math.round(point.y * 10) / 10 };
  const wait = 50 - (Date.now() - lastCursorSent); // 20 a second; the last position always goes
  if (wait <= 0) { lastCursorSent = Date.now(); socket.send(cursorLatest); return; }
  if (!cursorTimer) cursorTimer = setTimeout(() => { cursorTimer = null; lastCursorSent = Date.now(); socket.send(cursorLatest); }, wait);
}

svg.addEventListener("pointermove", (event) => {
  const at = toDiagram(event);
  if (isMe(state.presenter)) sendCursor(at);
  const drag = state.drag;
  if (!drag) return;
  const dx = at.x - drag.start.x, dy = at.y - drag.start.y;
  if (!drag.moved && Math.hypot(dx, dy) < 3) return;
  drag.moved = true;
  for (const [id, original] of drag.originals) {
    if (!original) continue;
    put(drag.kind === "move" ? moveBy(original, dx, dy) : resizeBy(original, dx, dy));
  }
  redraw();
});

function endDrag(event, commit) {
  const drag = state.drag;
  if (!drag) return;
  state.drag = null;
  if (svg.hasPointerCapture(event.pointerId)) svg.releasePointerCapture(event.pointerId);
  if (!drag.moved) return;
  const previous = new Map();
  const ops = [];
  for (const [id, original] of drag.originals) {
    if (!original) continue;
    previous.set(id, { cell: original, index: indexOf(id) });
    ops.push({ id, operation: "update", data: clone(cellOf(id)) });
  }
  if (!commit) { restore(previous); redraw(); return; }
  edit(ops, previous);
}

svg.addEventListener("pointerup", (event) => endDrag(event, true));
svg.addEventListener("pointercancel", (event) => endDrag(event, false));
svg.addEventListener("dblclick", (event) => {
  const id = cellIdAt(event.target) || state.selected;
  if (id) { select(id); startRename(id); }
});

// -- buttons and keys -----------------------------------------------------------------------------------------
const defaultHint = ui.hint.textContent;
for (const button of document.querySelectorAll("[data-add]")) button.addEventListener("click", () => { setMode(null); addNode(button.dataset.add); });
ui.addFlow.addEventListener("click", () => setMode(state.mode === "flow" ? null : "flow"));
ui.rename.addEventListener("click", () => state.selected && startRename(state.selected));
ui.remove.addEventListener("click", removeSelected);
ui.undo.addEventListener("click", () => undoRedo("undo"));
ui.redo.addEventListener("click", () => undoRedo("redo"));
ui.ask.addEventListener("click", () => { if (socket.send({ type: "request_presenter" })) say("You asked the host to let you present."); });
ui.follow.addEventListener("change", follow);
ui.restart.addEventListener("click", () => window.location.reload());

function undoRedo(action) {
  if (!editable()) return;
  if (!socket.send({ type: action })) say(`Cannot ${action} while the connection is down.`, "error");
}

document.addEventListener("keydown", (event) => {
  const typing = event.target.closest && event.target.closest("input, textarea, select, [contenteditable]");
  if (typing) return;
  const ctrl = event.ctrlKey || event.metaKey;
  if (ctrl && event.key.toLowerCase() === "z") { event.preventDefault(); undoRedo(event.shiftKey ? "redo" : "undo"); return; }
  if (ctrl && event.key.toLowerCase() === "y") { event.preventDefault(); undoRedo("redo"); return; }
  if ((event.key === "Delete" || event.key === "Backspace") && state.selected) { event.preventDefault(); removeSelected(); return; }
  if (event.key === "Escape") { setMode(null); select(null); }
});

// -- frames from the portal -------------------------------------------------------------------------------
const HISTORY_WORDS = {
  nothing_to_undo: "There is nothing to undo.", nothing_to_redo: "There is nothing to redo.",
  not_allowed: "You are not allowed to undo or redo in this session.",
};

const handlers = {
  welcome(frame) {
    state.me = frame.me;
    if (frame.generation) state.generation = frame.generation;
    socket.confirmed();
    setStatus("connecting", "Joining the live session…");
  },
  connection(frame) {
    state.upstream = frame.state;
    if (frame.state === "live") { setStatus("live", "Live"); return; }
    state.gotState = false; // wait for the state that follows the bridge's reconnect
    if (state.pending.length) state.uncertain = true;
    if (frame.state === "reconnecting") {
      const until = Date.now() + Number(frame.retry_in || 0) * 1000;
      const tick = () => setStatus("reconnecting", `The connection to TMI dropped. Trying again (attempt ${frame.attempt} of 5) in ${Math.max(0, Math.ceil((until - Date.now()) / 1000))} s…`);
      clearInterval(upstreamTicker);
      tick();
      upstreamTicker = setInterval(() => { if (state.upstream === "reconnecting") tick(); else clearInterval(upstreamTicker); }, 1000);
    } else if (frame.state === "lost") setStatus("lost", "The connection to TMI is lost.");
    else setStatus("connecting", "Connecting to TMI…");
  },
  state(frame) {
    state.cells = Array.isArray(frame.cells) ? clone(frame.cells) : [];
    if (state.uncertain && state.pending.length) say("Some of your latest changes were not confirmed before the connection dropped and may be lost. The diagram now shows what TMI has.", "warning");
    state.pending = [];
    state.uncertain = false;
    state.gotState = true;
    if (state.upstream !== "live") { state.upstream = "live"; setStatus("live", "Live"); }
    if (state.selected && indexOf(state.selected) < 0) state.selected = null;
    flushQueued();
    redraw();
  },
  ops(frame) {
    applyOps(Array.isArray(frame.cells) ? frame.cells : []);
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
    say(`${frame.message || "TMI did not accept that change."} Your change has been undone.`, "error");
    // TMI's view is the truth; without a state on its way, ask for one (a rejected remove, say, of a
    // cell someone else removed first, must not bring that cell back here).
    if (!frame.resync) socket.send({ type: "resync" });
  },
  participants(frame) {
    state.participants = Array.isArray(frame.participants) ? frame.participants.filter((p) => p && p.user) : [];
    const wasPresenter = isMe(state.presenter);
    state.host = frame.host || null;
    state.presenter = frame.presenter || null;
    const mine = state.participants.find((p) => isMe(p.user));
    if (mine) {
      state.canEdit = mine.can_edit === false ? false : mine.can_edit;
      state.rosterKnown = true;
    }
    if (!wasPresenter && isMe(state.presenter)) say("You are presenting: the others see your pointer and what you select.");
    if (!state.presenter || isMe(state.presenter)) state.cursor = null;
    renderPeople();
    redraw();
  },
  presenter_requested(frame) { showRequest(frame.user || null); },
  presenter_denied() { say("The host declined your request to present (or the host is not connected).", "warning"); },
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
    const words = HISTORY_WORDS[frame.result];
    if (words) say(words);
  },
  ended(frame) {
    state.ended = true;
    socket.stop();
    setStatus("ended", "The live session has ended.");
    ui.endedMessage.textContent = frame.message || "The live session has ended.";
    ui.ended.hidden = false;
    finishRename(false);
    setMode(null);
    renderPeople();
    redraw();
  },
  error(frame) {
    if (frame.code === "not_live") { say("TMI is not connected right now; try again in a moment.", "warning"); return; }
    say(frame.message || "The portal refused that request.", "error");
    // An error names no operation: if one of ours was refused, only a fresh state shows what TMI has.
    if (state.pending.length) socket.send({ type: "resync" });
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
    handlers.ended({ message: "You are no longer signed in to the portal, or no longer a member here. Reload the page to sign in again." });
  }
}

let upstreamTicker = null;
const socketUrl = `${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}${config.socketPath}`;
const socket = new LiveSocket(socketUrl, {
  onOpen() { setStatus("connecting", "Joining the live session…"); },
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
    setStatus("reconnecting", `Connection to the portal lost. Reconnecting (attempt ${attempt}) in ${seconds} s…`);
  },
}, { closes: config.closes || {}, maxFrameBytes: config.maxFrameBytes || Infinity });

// A handle for people debugging the page (and the browser tests): drop the socket as a network blip would.
window.portalLive = Object.freeze({ dropSocket: () => socket.drop(), get connected() { return canSend(); } });

renderPeople();
draw();
socket.connect();
