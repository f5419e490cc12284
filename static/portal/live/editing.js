// Changing the diagram: every edit this page makes (add, move, resize, rename, connect, remove) and
// undo/redo, the selection, and the tools' state.
//
// The cells are the truth as far as this page knows: a list of X6 cells exactly as TMI stores them.
// Each local edit is applied at once, sent as `ops` and kept as pending with the cells it replaced,
// until `ack` (forget it) or `rejected` (put the old cells back). A `state` replaces everything.
// Edits made while there is no `state` to build on (before the first, during a reconnect) wait in
// `queued` and are sent once it arrives.

import { expand, fitViewBox, nodeBox, visibleParts } from "./render.js";
import {
  announce, applyOps, cellOf, cellsLayer, channel, clone, config, indexOf, isMe, labelOf, nameOf, put, restore, say,
  sendFrame, snapshot, state, svg, t, ui, uuid,
} from "./page.js";
import { drawOverlay, lastDraw, redraw, visibleBox } from "./view.js";

const canSend = () => Boolean(channel.socket && channel.socket.open) && state.gotState && state.upstream === "live" && !state.ended;
export { canSend };

// Hidden until the roster has named us, so a reader never sees tools flash up and vanish.
export const editable = () => state.rosterKnown && state.canEdit !== false && !state.ended;

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

// Cells changed here or by others: the selection follows them, and there is now something to undo.
export function applied(ops) {
  if (applyOps(ops)) select(null);
  if (ops.length) { state.canUndo = true; state.canRedo = false; }
}

// One change by this page: shown at once, sent (or queued), remembered until TMI answers.
export function edit(ops, previous = null) {
  if (!ops.length || state.ended || state.canEdit === false) return false;
  const before = previous || snapshot(ops);
  applied(ops);
  for (const part of chunks(ops)) {
    const entry = { operation_id: uuid(), cells: part, previous: new Map(part.map((op) => [op.id, before.get(op.id)])) };
    if (canSend()) send(entry); else state.queued.push(entry);
  }
  redraw();
  return true;
}

function send(entry) {
  const frame = { type: "ops", operation_id: entry.operation_id, cells: entry.cells };
  if (!channel.socket.fits(frame)) { // one cell too big for any frame: undone here, as the portal would refuse it
    restore(entry.previous);
    say(config.tooLarge, "error");
    redraw();
    return;
  }
  channel.socket.send(frame);
  state.pending.push(entry);
}

export function flushQueued() {
  const waiting = state.queued;
  state.queued = [];
  for (const entry of waiting) {
    entry.previous = snapshot(entry.cells); // rebuilt on the state that just arrived
    applyOps(entry.cells);
    send(entry);
  }
}

// -- tools and selection ---------------------------------------------------------------------------------------
export function updateTools() {
  const readOnly = !editable();
  ui.tools.hidden = readOnly;
  ui.hint.hidden = readOnly;
  ui.reader.hidden = !(state.canEdit === false && !state.ended);
  ui.rename.disabled = ui.remove.disabled = !state.selected;
  ui.connect.disabled = !(state.selected && isNode(state.selected));
  ui.undo.disabled = !state.canUndo;
  ui.redo.disabled = !state.canRedo;
  ui.addFlow.setAttribute("aria-pressed", String(state.mode === "flow"));
  ui.viewport.classList.toggle("live-editable", !readOnly);
}

export const nodes = () => visibleParts(state.cells)[0];
const isNode = (id) => nodes().has(id);

// Only the overlay and one class change: the cells' elements stay, so a double-click lands on the
// element its first click selected.
export function select(id) {
  if (state.selected === id) return;
  state.selected = id;
  if (isMe(state.presenter)) sendFrame({ type: "selection", cell_ids: id ? [id] : [] });
  for (const g of cellsLayer.querySelectorAll(":scope > [data-cell-id]")) g.classList.toggle("live-selected", g.getAttribute("data-cell-id") === id);
  drawOverlay();
  updateTools();
}

export function setMode(mode) {
  state.mode = mode;
  state.flowSource = null;
  ui.hint.textContent = mode === "flow" ? t("flow_pick_source") : defaultHint;
  updateTools();
}
const defaultHint = ui.hint.textContent;

// -- adding shapes ---------------------------------------------------------------------------------------------
const NODE_LOOKS = { // as TMI-UX and the sandbox's seed draw new shapes
  actor: [{ fill: "#FFFFFF", stroke: "#333333", strokeWidth: 2 }, [120, 60], "new_actor"],
  process: [{ fill: "#E3F2FD", stroke: "#1565C0", strokeWidth: 2 }, [160, 70], "new_process"],
  store: [{ fill: "#FFF8E1", stroke: "#F57F17", strokeWidth: 2 }, [160, 60], "new_store"],
  "security-boundary": [{ fill: "#FAFAFA", stroke: "#C62828", strokeWidth: 2, strokeDasharray: "6,4" }, [320, 220], "new_boundary"],
};
const SIDES = ["top", "right", "bottom", "left"];
const GAP = 16; // between a new shape and what is already drawn

// Whether the segment a-b passes through the inside of box b (Liang-Barsky), as seed.segment_hits_box.
function segmentHits(a, b, box) {
  let t0 = 0, t1 = 1;
  const dx = b[0] - a[0], dy = b[1] - a[1];
  for (const [p, q] of [[-dx, a[0] - box.x], [dx, box.right - a[0]], [-dy, a[1] - box.y], [dy, box.bottom - a[1]]]) {
    if (p === 0) { if (q <= 0) return false; }
    else if (p < 0) t0 = Math.max(t0, q / p);
    else t1 = Math.min(t1, q / p);
  }
  return t1 - t0 > 1e-9;
}

// Where a new shape goes: in free space, as near the middle of the view as there is some. Free means
// clear of every shape and every flow's path (a trust boundary is a zone: shapes may go inside one, and
// a new boundary only avoids other boundaries' edges... it is drawn behind everything, so it may cover).
export function freeSpot(shape, width, height) {
  const fragments = lastDraw ? lastDraw.fragments : [];
  const boundary = shape === "security-boundary";
  const boxes = boundary ? [] : fragments.filter((f) => f.cell.type === "node" && f.cell.kind !== "boundary").map((f) => expand(nodeBox(f.cell), GAP));
  const paths = boundary ? [] : fragments.filter((f) => f.points).map((f) => f.points);
  const clear = (x, y) => {
    const box = { x, y, width, height, right: x + width, bottom: y + height };
    const wide = expand(box, GAP);
    if (boxes.some((b) => x < b.right && b.x < box.right && y < b.bottom && b.y < box.bottom)) return false;
    return !paths.some((points) => points.slice(1).some((p, i) => segmentHits(points[i], p, wide)));
  };
  const view = visibleBox();
  const centre = view && view.width > 0 ? { x: view.x + view.width / 2, y: view.y + view.height / 2 } : { x: 100, y: 100 };
  for (let ring = 0; ring < 40; ring++) {
    const steps = Math.max(1, ring * 8);
    for (let i = 0; i < steps; i++) {
      const angle = (2 * Math.PI * i) / steps;
      const x = Math.round(centre.x - width / 2 + Math.cos(angle) * ring * 30), y = Math.round(centre.y - height / 2 + Math.sin(angle) * ring * 30);
      if (clear(x, y)) return { x, y };
    }
  }
  // Beside everything: always free.
  const all = fragments.length ? fitViewBox(fragments.flatMap((f) => f.boxes), 0) : { right: 0, y: 0 };
  return { x: Math.round(all.right + 2 * GAP), y: Math.round(all.y) };
}

export function addNode(shape) {
  const [body, [width, height], word] = NODE_LOOKS[shape];
  const id = uuid();
  const cell = {
    id, shape, position: freeSpot(shape, width, height),
    size: { width, height }, angle: 0,
    attrs: { body: { ...body }, text: { text: t(word), fontSize: 12, fill: "#212121" } },
    zIndex: shape === "security-boundary" ? 1 : 2, data: { _metadata: [] },
  };
  if (shape !== "security-boundary") {
    cell.ports = { groups: Object.fromEntries(SIDES.map((s) => [s, { position: s }])), items: SIDES.map((s) => ({ id: uuid(), group: s })) };
  }
  if (state.generation !== "0.217") cell.data.security_boundary = shape === "security-boundary";
  if (edit([{ id, operation: "add", data: cell }])) announce(t("announce_added", { name: t(word) }));
  select(id);
  return id;
}

const centreOf = (n) => [n.x + n.width / 2, n.y + n.height / 2];
function facingPorts(source, target) {
  const [sx, sy] = centreOf(source), [tx, ty] = centreOf(target);
  if (Math.abs(tx - sx) >= Math.abs(ty - sy)) return tx > sx ? ["right", "left"] : ["left", "right"];
  return ty > sy ? ["bottom", "top"] : ["top", "bottom"];
}
const portOn = (node, side) => Object.keys(node.ports).find((id) => node.ports[id] === side) || null;

export function addFlow(sourceId, targetId) {
  const all = nodes();
  const source = all.get(sourceId), target = all.get(targetId);
  if (!source || !target) return null;
  const [out, into] = facingPorts(source, target);
  const end = (node, side) => { const port = portOn(node, side); return port ? { cell: node.id, port } : { cell: node.id }; };
  const id = uuid();
  const done = edit([{ id, operation: "add", data: {
    id, shape: state.generation === "0.217" ? "edge" : "flow", source: end(source, out), target: end(target, into),
    attrs: { line: { stroke: "#455A64", strokeWidth: 1.5, targetMarker: { name: "classic", size: 8 } } },
    labels: [{ position: 0.5, attrs: { text: { text: t("new_flow"), fontSize: 11 } } }], zIndex: 3, data: { _metadata: [] },
  } }]);
  if (done) announce(t("announce_connected", { source: nameOf(cellOf(sourceId)), target: nameOf(cellOf(targetId)) }));
  select(id);
  return id;
}

// -- removing, moving, resizing -----------------------------------------------------------------------------------
export function removeSelected() {
  const id = state.selected;
  const cell = id && cellOf(id);
  if (!cell || !editable()) return;
  const name = nameOf(cell);
  const attached = state.cells.filter((c) => c.id !== id && [c.source, c.target].some((end) => end === id || (end && end.cell === id)));
  if (edit([...attached.map((c) => ({ id: c.id, operation: "remove" })), { id, operation: "remove" }])) announce(t("announce_deleted", { name }));
  select(null);
}

export function descendants(id) {
  const found = [id];
  for (let i = 0; i < found.length; i++) for (const c of state.cells) if (c.parent === found[i] && !found.includes(c.id)) found.push(c.id);
  return found;
}

export function moveBy(cell, dx, dy) {
  if (cell.position && typeof cell.position === "object") return { ...cell, position: { ...cell.position, x: Math.round(cell.position.x + dx), y: Math.round(cell.position.y + dy) } };
  if (typeof cell.x === "number") return { ...cell, x: Math.round(cell.x + dx), y: Math.round(cell.y + dy) };
  return cell;
}

export function resizeBy(cell, dx, dy) {
  const size = cell.size && typeof cell.size === "object" ? cell.size : { width: cell.width, height: cell.height };
  const width = Math.max(20, Math.round((Number(size.width) || 120) + dx)), height = Math.max(20, Math.round((Number(size.height) || 60) + dy));
  if (cell.size && typeof cell.size === "object") return { ...cell, size: { ...cell.size, width, height } };
  return { ...cell, width, height };
}

// A shape (with what it contains) moved by the keyboard: one update, announced.
export function moveShape(id, dx, dy) {
  if (!editable() || !isNode(id)) return;
  const ops = descendants(id).map((d) => cellOf(d)).filter(Boolean).map((c) => ({ id: c.id, operation: "update", data: moveBy(clone(c), dx, dy) }));
  if (edit(ops)) announce(t("announce_moved", { name: nameOf(cellOf(id)) }));
}

// -- renaming ------------------------------------------------------------------------------------------------------
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
export const renamingId = () => (renaming ? renaming.id : null);
// While the field is open over a shape, the shape's own label is hidden under it (the field shows it).
function hideLabel(id, hidden) {
  const g = cellsLayer.querySelector(`:scope > [data-cell-id="${CSS.escape(id)}"]`);
  if (g) g.classList.toggle("live-renaming", hidden);
}
export function startRename(id) {
  const cell = cellOf(id);
  const fragment = lastDraw && lastDraw.fragments.find((f) => f.cellId === id);
  if (!cell || !fragment || !editable()) return;
  finishRename(false);
  const matrix = svg.getScreenCTM();
  const b = fitViewBox(fragment.boxes, 0);
  const area = ui.viewport.getBoundingClientRect();
  const topLeft = new DOMPoint(b.x, b.y).matrixTransform(matrix);
  const height = (b.height * matrix.a);
  const input = document.createElement("input");
  input.type = "text";
  input.className = "live-rename-input";
  input.value = labelOf(cell);
  input.setAttribute("aria-label", t("new_name", { name: nameOf(cell) }));
  input.style.left = `${topLeft.x - area.left + ui.viewport.scrollLeft}px`;
  input.style.top = `${topLeft.y - area.top + ui.viewport.scrollTop + Math.max(0, height / 2 - 16)}px`;
  input.style.width = `${Math.max(140, b.width * matrix.a)}px`;
  const returnTo = document.activeElement;
  renaming = { id, input, returnTo };
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter") { event.preventDefault(); finishRename(true); }
    if (event.key === "Escape") { event.preventDefault(); finishRename(false); }
    event.stopPropagation();
  });
  input.addEventListener("blur", () => finishRename(true));
  ui.viewport.append(input);
  hideLabel(id, true);
  input.focus();
  input.select();
}

export function finishRename(keep) {
  if (!renaming) return;
  const { id, input, returnTo } = renaming;
  renaming = null;
  const hadFocus = document.activeElement === input;
  input.remove();
  hideLabel(id, false);
  const cell = cellOf(id);
  if (keep && cell && input.value !== labelOf(cell)) {
    const before = nameOf(cell);
    if (edit([{ id, operation: "update", data: withLabel(cell, input.value) }])) announce(t("announce_renamed", { old: before, name: nameOf(cellOf(id)) }));
  }
  if (hadFocus) { // back to the shape (redrawn by now, or about to be)
    queueMicrotask(() => queueMicrotask(() => {
      const g = cellsLayer.querySelector(`:scope > [data-cell-id="${CSS.escape(id)}"]`);
      if (g) g.focus(); else if (returnTo && returnTo.isConnected) returnTo.focus();
    }));
  }
}

// -- undo and redo -------------------------------------------------------------------------------------------------
export function undoRedo(action) {
  if (!editable()) return;
  if ((action === "undo" && !state.canUndo) || (action === "redo" && !state.canRedo)) return;
  if (!sendFrame({ type: action })) say(t(action === "undo" ? "cannot_undo_offline" : "cannot_redo_offline"), "error");
}

// TMI's answer to an undo or redo (or, at 0.217, anyone's undo or redo, as `resync_required`).
export function historyAnswered(frame) {
  const { action, result } = frame;
  if (result === "nothing_to_undo") state.canUndo = false;
  else if (result === "nothing_to_redo") state.canRedo = false;
  else if (result === "applied" || result === "resync_required") {
    if (action === "undo") state.canRedo = true;
    if (action === "redo" || action === "undo") state.canUndo = true; // TMI will say when the history runs out
    if (!action) { state.canUndo = true; state.canRedo = true; }
  }
  updateTools();
}
