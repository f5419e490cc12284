// The keyboard: Tab reaches every shape (each is a focusable button named after it), and on a shape
// the arrow keys move it (Shift: further), Enter renames it, C (or "Connect to…") connects it to a
// shape chosen from a menu, Delete removes it. On the empty canvas the arrow keys pan and + - 0 zoom
// and fit. Ctrl+Z / Ctrl+Shift+Z (or Ctrl+Y) undo and redo; Escape lets go.

import { cellOf, nameOf, state, t, ui } from "./page.js";
import { addFlow, editable, moveShape, nodes, removeSelected, select, setMode, startRename, undoRedo } from "./editing.js";
import { drawOverlay, fit, panBy, zoomIn, zoomOut } from "./view.js";
import { cellIdAt } from "./pointer.js";

const STEP = 10, BIG_STEP = 50, PAN = 60;
const ARROWS = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };

function onShapeKey(event, id) {
  const arrow = ARROWS[event.key];
  if (arrow && editable()) {
    event.preventDefault();
    const step = event.shiftKey ? BIG_STEP : STEP;
    moveShape(id, arrow[0] * step, arrow[1] * step);
    return true;
  }
  if ((event.key === "Enter" || event.key === "F2") && editable()) { event.preventDefault(); select(id); startRename(id); return true; }
  if ((event.key === "c" || event.key === "C") && !event.ctrlKey && !event.metaKey && editable()) { event.preventDefault(); select(id); openConnectMenu(); return true; }
  return false;
}

function onCanvasKey(event) {
  const arrow = ARROWS[event.key];
  if (arrow) { event.preventDefault(); panBy(arrow[0] * PAN, arrow[1] * PAN); return; }
  if (event.key === "+" || event.key === "=") { event.preventDefault(); zoomIn(); }
  else if (event.key === "-") { event.preventDefault(); zoomOut(); }
  else if (event.key === "0") { event.preventDefault(); fit(); }
}

// -- the connect menu: every other shape, by name ------------------------------------------------------------------
export function openConnectMenu() {
  const sourceId = state.selected;
  if (!sourceId || !nodes().has(sourceId) || !editable()) return;
  const source = cellOf(sourceId);
  const menu = ui.connectMenu;
  const heading = document.createElement("p");
  heading.className = "live-connect-heading";
  heading.id = "live-connect-heading";
  heading.textContent = t("connect_heading", { name: nameOf(source) });
  const list = document.createElement("ul");
  list.setAttribute("aria-labelledby", heading.id);
  for (const [id, node] of nodes()) {
    if (id === sourceId || node.kind === "boundary" || node.kind === "text") continue; // zones and notes take no flows
    const item = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "button button-quiet";
    button.dataset.target = id;
    button.textContent = nameOf(cellOf(id));
    button.addEventListener("click", () => { closeConnectMenu(false); addFlow(sourceId, id); focusShape(sourceId); });
    item.append(button);
    list.append(item);
  }
  const cancel = document.createElement("button");
  cancel.type = "button";
  cancel.className = "button";
  cancel.textContent = t("cancel");
  cancel.addEventListener("click", () => closeConnectMenu(true));
  menu.replaceChildren(heading, list, cancel);
  menu.dataset.source = sourceId;
  menu.hidden = false;
  ui.connect.setAttribute("aria-expanded", "true");
  (menu.querySelector("button") || cancel).focus();
}

export function closeConnectMenu(refocus) {
  const menu = ui.connectMenu;
  if (menu.hidden) return;
  const source = menu.dataset.source;
  menu.hidden = true;
  menu.replaceChildren();
  ui.connect.setAttribute("aria-expanded", "false");
  if (refocus && source) focusShape(source);
}

function focusShape(id) {
  queueMicrotask(() => queueMicrotask(() => {
    const g = document.querySelector(`#live-viewport g.tmi-cells > [data-cell-id="${CSS.escape(id)}"]`);
    if (g) g.focus();
  }));
}

export function initKeyboard() {
  ui.viewport.addEventListener("focusin", (event) => {
    const id = cellIdAt(event.target);
    state.focused = id;
    if (id && state.mode !== "flow") select(id);
    drawOverlay();
  });
  ui.viewport.addEventListener("focusout", () => { state.focused = null; drawOverlay(); });
  ui.connect.addEventListener("click", () => (ui.connectMenu.hidden ? openConnectMenu() : closeConnectMenu(true)));
  ui.connectMenu.addEventListener("keydown", (event) => {
    if (event.key === "Escape") { event.preventDefault(); event.stopPropagation(); closeConnectMenu(true); }
  });
  document.addEventListener("keydown", (event) => {
    const typing = event.target.closest && event.target.closest("input, textarea, select, [contenteditable]");
    if (typing) return;
    const ctrl = event.ctrlKey || event.metaKey;
    if (ctrl && event.key.toLowerCase() === "z") { event.preventDefault(); undoRedo(event.shiftKey ? "redo" : "undo"); return; }
    if (ctrl && event.key.toLowerCase() === "y") { event.preventDefault(); undoRedo("redo"); return; }
    if (ctrl || event.altKey) return;
    const shapeId = cellIdAt(event.target);
    if (shapeId && onShapeKey(event, shapeId)) return;
    if (!shapeId && event.target === ui.viewport) { onCanvasKey(event); if (event.defaultPrevented) return; }
    if ((event.key === "Delete" || event.key === "Backspace") && state.selected && !event.target.closest("button, a")) { event.preventDefault(); removeSelected(); return; }
    if (event.key === "Escape") { closeConnectMenu(false); setMode(null); select(null); }
  });
}
