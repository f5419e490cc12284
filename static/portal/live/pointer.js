// The mouse, pen and touch on the diagram: select, drag to move, drag the corner to resize, double-click
// to rename, drag empty canvas to pan, pinch (two fingers) to zoom; the presenter's pointer is sent.

import { visibleParts } from "./render.js";
import { cellOf, clone, indexOf, isMe, put, restore, sendFrame, state, svg, t, ui } from "./page.js";
import { addFlow, descendants, edit, editable, moveBy, resizeBy, select, setMode, startRename } from "./editing.js";
import { redraw, toDiagram, zoomTo } from "./view.js";

export const cellIdAt = (target) => { const g = target.closest && target.closest("g.tmi-cells [data-cell-id]"); return g ? g.getAttribute("data-cell-id") : null; };

let lastCursorSent = 0, cursorTimer = null, cursorLatest = null;
function sendCursor(point) {
  cursorLatest = { type: "cursor", x: Math.round(point.x * 10) / 10, y: Math.round(point.y * 10) / 10 };
  const wait = 50 - (Date.now() - lastCursorSent); // 20 a second; the last position always goes
  if (wait <= 0) { lastCursorSent = Date.now(); sendFrame(cursorLatest); return; }
  if (!cursorTimer) cursorTimer = setTimeout(() => { cursorTimer = null; lastCursorSent = Date.now(); sendFrame(cursorLatest); }, wait);
}

// Fingers on the canvas, for pinching: pointerId -> {x, y}.
const touches = new Map();
let pinch = null;

function onDown(event) {
  if (event.button !== 0) return;
  if (event.pointerType === "touch") {
    touches.set(event.pointerId, { x: event.clientX, y: event.clientY });
    if (touches.size === 2) { // a second finger: a pinch, not a drag
      if (state.drag && state.drag.kind !== "pan") cancelDrag();
      state.drag = null;
      const [a, b] = [...touches.values()];
      pinch = { distance: Math.hypot(a.x - b.x, a.y - b.y) || 1, zoom: state.zoom };
      return;
    }
  }
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
    if (!state.flowSource) { state.flowSource = id; select(id); ui.hint.textContent = t("flow_pick_target"); return; }
    if (id !== state.flowSource) { const source = state.flowSource; setMode(null); addFlow(source, id); }
    return;
  }
  select(id);
  const nodes = visibleParts(state.cells)[0];
  if (id && nodes.has(id) && editable()) {
    state.drag = { kind: "move", start: at, moved: false, originals: new Map(descendants(id).map((d) => [d, clone(cellOf(d))])) };
    svg.setPointerCapture(event.pointerId);
  } else if (!id) { // empty canvas: pan
    state.drag = { kind: "pan", from: { x: event.clientX, y: event.clientY }, scroll: [ui.viewport.scrollLeft, ui.viewport.scrollTop], moved: false };
    svg.setPointerCapture(event.pointerId);
  }
}

function onMove(event) {
  if (touches.has(event.pointerId)) touches.set(event.pointerId, { x: event.clientX, y: event.clientY });
  if (pinch && touches.size === 2) {
    const [a, b] = [...touches.values()];
    zoomTo(pinch.zoom * (Math.hypot(a.x - b.x, a.y - b.y) / pinch.distance), { x: (a.x + b.x) / 2, y: (a.y + b.y) / 2 });
    return;
  }
  const at = toDiagram(event);
  if (isMe(state.presenter)) sendCursor(at);
  const drag = state.drag;
  if (!drag) return;
  if (drag.kind === "pan") {
    drag.moved = true;
    ui.viewport.scrollLeft = drag.scroll[0] - (event.clientX - drag.from.x);
    ui.viewport.scrollTop = drag.scroll[1] - (event.clientY - drag.from.y);
    return;
  }
  const dx = at.x - drag.start.x, dy = at.y - drag.start.y;
  if (!drag.moved && Math.hypot(dx, dy) < 3) return;
  drag.moved = true;
  for (const [id, original] of drag.originals) {
    if (!original) continue;
    put(drag.kind === "move" ? moveBy(original, dx, dy) : resizeBy(original, dx, dy));
  }
  redraw();
}

function cancelDrag() {
  const drag = state.drag;
  if (!drag || !drag.originals || !drag.moved) return;
  const previous = new Map();
  for (const [id, original] of drag.originals) if (original) previous.set(id, { cell: original, index: indexOf(id) });
  restore(previous);
  redraw();
}

function endDrag(event, commit) {
  touches.delete(event.pointerId);
  if (touches.size < 2) pinch = null;
  const drag = state.drag;
  if (!drag) return;
  state.drag = null;
  if (svg.hasPointerCapture(event.pointerId)) svg.releasePointerCapture(event.pointerId);
  if (!drag.moved || drag.kind === "pan") return;
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

export function initPointer() {
  svg.addEventListener("pointerdown", onDown);
  svg.addEventListener("pointermove", onMove);
  svg.addEventListener("pointerup", (event) => endDrag(event, true));
  svg.addEventListener("pointercancel", (event) => endDrag(event, false));
  svg.addEventListener("dblclick", (event) => {
    const id = cellIdAt(event.target) || state.selected;
    if (id) { select(id); startRename(id); }
  });
}
