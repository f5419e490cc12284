// Drawing the cells into the page's SVG, and the view onto them: fit on open, zoom, pan, full screen,
// following the presenter. The SVG's viewBox is the drawing's extent; its width and height are that
// extent times the zoom, and the viewport (a scrolling box) pans over it.

import { drawCells, emptyNote, el, expand, fitViewBox, MARGIN, Markers, nodeBox, SVG_NS } from "./render.js";
import { cellsLayer, config, isMe, kindOf, nameOf, personName, state, svg, t, ui } from "./page.js";
import { editable, renamingId, updateTools } from "./editing.js";

export const MIN_ZOOM = 0.2;
export const MAX_ZOOM = 4;
const ZOOM_STEP = 1.25;

let drawScheduled = false;
export function redraw() {
  if (drawScheduled) return;
  drawScheduled = true;
  queueMicrotask(() => { drawScheduled = false; draw(); });
}

export let lastDraw = null;
export function draw() {
  const markers = new Markers(config.idPrefix);
  const highlight = new Set(state.presenterSelection);
  const { fragments, nodes } = drawCells(state.cells, markers, highlight);
  const focused = document.activeElement && document.activeElement.closest && document.activeElement.closest("g.tmi-cells [data-cell-id]");
  const focusedId = focused ? focused.getAttribute("data-cell-id") : null;
  cellsLayer.replaceChildren(...fragments.map((f) => f.element));
  let defs = svg.querySelector(":scope > defs");
  if (!defs) { defs = document.createElementNS(SVG_NS, "defs"); svg.insertBefore(defs, cellsLayer); }
  defs.replaceChildren(...markers.elements());
  const content = fitViewBox(fragments.flatMap((f) => f.boxes), MARGIN);
  if (!fragments.length) {
    const note = emptyNote(content);
    note.style.backgroundColor = css(WHITE); // see describeBackgrounds
    cellsLayer.replaceChildren(note);
  }
  let extent = content;
  if (state.drag && state.extent) extent = union(extent, state.extent); // no jumping under the pointer
  if (state.cursor) {
    // A pointer far outside the drawing is shown at its edge: the canvas does not grow without bound.
    const room = expand(content, 200);
    state.cursor = { x: Math.min(Math.max(state.cursor.x, room.x), room.right), y: Math.min(Math.max(state.cursor.y, room.y), room.bottom) };
    extent = union(extent, expand(pointBox(state.cursor), 40));
  }
  state.extent = extent;
  if (!state.fitted && ui.viewport.clientWidth > 0) { state.zoom = fitZoom(extent); state.fitted = true; }
  svg.setAttribute("viewBox", [extent.x, extent.y, extent.width, extent.height].map(round).join(" "));
  sizeToZoom();
  lastDraw = { fragments, nodes };
  for (const f of fragments) {
    if (f.cellId === state.selected) f.element.classList.add("live-selected");
    if (f.cellId === renamingId()) f.element.classList.add("live-renaming");
    makeFocusable(f);
  }
  describeBackgrounds(fragments);
  if (focusedId) {
    const again = cellsLayer.querySelector(`:scope > [data-cell-id="${CSS.escape(focusedId)}"]`);
    if (again) again.focus({ preventScroll: true });
  }
  drawOverlay();
  updateTools();
}

// Each shape is a stop for Tab, with its name and kind for screen readers (the server's SVG is a
// picture; the live one is a set of controls, so its root is a group).
// Flows too: named with their ends, so they can be renamed and removed from the keyboard.
function makeFocusable(fragment) {
  const g = fragment.element;
  g.setAttribute("tabindex", "0");
  g.setAttribute("role", "button");
  const raw = rawOf(fragment.cellId);
  if (fragment.cell.type === "node") {
    g.setAttribute("aria-label", t("shape_label", { name: nameOf(raw), kind: kindOf(raw) }));
    return;
  }
  const end = (terminal) => (terminal && terminal.cell ? nameOf(rawOf(terminal.cell)) : t("kind_unknown"));
  g.setAttribute("aria-label", t("flow_label", { name: nameOf(raw), source: end(fragment.cell.source), target: end(fragment.cell.target) }));
}
// What is drawn under each label, said in CSS (which SVG text does not paint): a contrast checker such
// as axe cannot look through SVG shapes, and would otherwise leave every label's contrast undecided. The
// colour is the one the renderer painted there, made opaque: the shape's fill at its opacity over the
// trust boundary it sits in (or the white canvas), or a flow label's plate.
const WHITE = [255, 255, 255];
const paint = new OffscreenCanvas(1, 1).getContext("2d");
function rgba(text) {
  paint.fillStyle = "#000000";
  paint.fillStyle = text; // an invalid colour leaves black: the renderer only writes valid ones
  const value = paint.fillStyle;
  if (value.startsWith("#")) return [1, 3, 5].map((i) => parseInt(value.slice(i, i + 2), 16)).concat(1);
  const parts = value.slice(value.indexOf("(") + 1, -1).split(",").map(Number);
  return [parts[0], parts[1], parts[2], parts.length > 3 ? parts[3] : 1];
}
function over(shape, under) {
  const fill = shape && shape.getAttribute("fill");
  if (!fill || fill === "none") return under;
  const [r, g, b, a] = rgba(fill);
  const k = a * Number(shape.getAttribute("fill-opacity") || 1) * Number(shape.getAttribute("opacity") || 1);
  return [r, g, b].map((c, i) => Math.round(k * c + (1 - k) * under[i]));
}
const css = ([r, g, b]) => `rgb(${r}, ${g}, ${b})`;

function describeBackgrounds(fragments) {
  const zones = [];
  for (const f of fragments) {
    let colour;
    if (f.cell.type === "node") {
      const [x, y] = [f.cell.x + f.cell.width / 2, f.cell.y + f.cell.height / 2];
      const zone = zones.findLast((z) => z.box.x <= x && x <= z.box.right && z.box.y <= y && y <= z.box.bottom);
      colour = over(f.element.querySelector(".tmi-shape"), zone ? zone.colour : WHITE);
      if (f.cell.kind === "boundary") zones.push({ box: nodeBox(f.cell), colour });
    } else colour = over(f.element.querySelector(".tmi-halo"), WHITE);
    for (const text of f.element.querySelectorAll("text")) text.style.backgroundColor = css(colour);
  }
}

const rawOf = (id) => state.cells.findLast((c) => c && c.id === id); // the last duplicate is the one drawn

const round = (v) => String(Math.round(v * 100) / 100);
export const pointBox = (p) => ({ x: p.x, y: p.y, width: 0, height: 0, right: p.x, bottom: p.y });
function union(a, b) {
  const x = Math.min(a.x, b.x), y = Math.min(a.y, b.y);
  const right = Math.max(a.x + a.width, b.x + b.width), bottom = Math.max(a.y + a.height, b.y + b.height);
  return { x, y, width: right - x, height: bottom - y, right, bottom };
}

// -- zoom, fit, pan -------------------------------------------------------------------------------------------
// The zoom at which the whole drawing fits the viewport (never above 1.5); a drawing wider than it is
// tall then leaves no tall empty box under it (outside full screen, the viewport shrinks to it).
function fitZoom(extent) {
  ui.viewport.style.removeProperty("height");
  const width = ui.viewport.clientWidth - 2, height = ui.viewport.clientHeight - 2;
  if (!(extent.width > 0 && extent.height > 0 && width > 0 && height > 0)) return 1;
  const zoom = clampZoom(Math.min(width / extent.width, height / extent.height, 1.5));
  if (!ui.board.classList.contains("live-full") && extent.height * zoom + 4 < height) {
    ui.viewport.style.height = `${Math.ceil(extent.height * zoom + 4)}px`; // the CSS min-height still applies
  }
  return zoom;
}
const clampZoom = (z) => Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, z));

function sizeToZoom() {
  const extent = state.extent;
  if (!extent) return;
  svg.setAttribute("width", round(extent.width * state.zoom));
  svg.setAttribute("height", round(extent.height * state.zoom));
  ui.viewport.dataset.zoom = round(state.zoom);
}

// Zooms about a point of the viewport (its middle by default), so what is under it stays there.
export function zoomTo(zoom, around = null) {
  const area = ui.viewport.getBoundingClientRect();
  const focus = around || { x: area.left + area.width / 2, y: area.top + area.height / 2 };
  const matrix = svg.getScreenCTM();
  const at = matrix ? new DOMPoint(focus.x, focus.y).matrixTransform(matrix.inverse()) : null;
  state.zoom = clampZoom(zoom);
  sizeToZoom();
  if (at) {
    const moved = new DOMPoint(at.x, at.y).matrixTransform(svg.getScreenCTM());
    ui.viewport.scrollLeft += moved.x - focus.x;
    ui.viewport.scrollTop += moved.y - focus.y;
  }
  updateZoomTools();
}
export const zoomIn = () => zoomTo(state.zoom * ZOOM_STEP);
export const zoomOut = () => zoomTo(state.zoom / ZOOM_STEP);
export function fit() {
  if (!state.extent) return;
  state.zoom = fitZoom(state.extent);
  sizeToZoom();
  ui.viewport.scrollLeft = 0;
  ui.viewport.scrollTop = 0;
  updateZoomTools();
}
function updateZoomTools() {
  ui.zoomIn.disabled = state.zoom >= MAX_ZOOM - 1e-6;
  ui.zoomOut.disabled = state.zoom <= MIN_ZOOM + 1e-6;
}

export function panBy(dx, dy) {
  ui.viewport.scrollLeft += dx;
  ui.viewport.scrollTop += dy;
}

// Full screen for the board (the diagram and its tools), where the browser allows it; otherwise the
// board fills the window (a phone's browser without the Fullscreen API).
export function toggleFullScreen() {
  const on = !ui.board.classList.contains("live-full");
  if (on && ui.board.requestFullscreen && !document.fullscreenElement) ui.board.requestFullscreen().catch(() => {});
  if (!on && document.fullscreenElement) document.exitFullscreen().catch(() => {});
  setFull(on);
}
function setFull(on) {
  ui.board.classList.toggle("live-full", on);
  ui.fullScreen.setAttribute("aria-pressed", String(on));
  ui.fullScreen.textContent = on ? t("leave_full_screen") : t("full_screen");
  requestAnimationFrame(fit);
}
document.addEventListener("fullscreenchange", () => { if (!document.fullscreenElement && ui.board.classList.contains("live-full")) setFull(false); });

// -- pointer positions ---------------------------------------------------------------------------------------
export function toDiagram(event) {
  const matrix = svg.getScreenCTM();
  return new DOMPoint(event.clientX, event.clientY).matrixTransform(matrix.inverse());
}

// The part of the drawing in view, in the diagram's units.
export function visibleBox() {
  const matrix = svg.getScreenCTM();
  const area = ui.viewport.getBoundingClientRect();
  if (!matrix) return null;
  const inverse = matrix.inverse();
  const svgBox = svg.getBoundingClientRect();
  const left = Math.max(area.left, svgBox.left), top = Math.max(area.top, svgBox.top);
  const right = Math.min(area.right, svgBox.right), bottom = Math.min(area.bottom, svgBox.bottom);
  const a = new DOMPoint(left, top).matrixTransform(inverse), b = new DOMPoint(Math.max(left, right), Math.max(top, bottom)).matrixTransform(inverse);
  return { x: a.x, y: a.y, width: b.x - a.x, height: b.y - a.y, right: b.x, bottom: b.y };
}

// -- the overlay: selection, resize handle, the presenter's pointer ------------------------------------------------
// The presenter's pointer is one element, moved rather than redrawn, so it never blinks.
const cursorLabel = el("text", { x: 16, y: 30 });
cursorLabel.style.backgroundColor = "rgb(255, 255, 255)"; // its white halo (see describeBackgrounds)
const cursorMark = el("g", { class: "live-cursor" }, [el("path", { d: "M0 0L0 18L5 13.5L8.5 21L11.5 19.5L8 12.5L14 12.5Z" }), cursorLabel]);

// A rectangle's outline as four separate sides: one <rect> (or a group of the four) over a shape would,
// to a contrast checker, cover the shape's label (it cannot tell an unfilled rectangle from a filled one).
const frame = (b, cls) => [
  [b.x, b.y, b.right, b.y], [b.right, b.y, b.right, b.bottom], [b.right, b.bottom, b.x, b.bottom], [b.x, b.bottom, b.x, b.y],
].map(([x1, y1, x2, y2]) => el("line", { class: cls, x1, y1, x2, y2 }));

let overlaid = [];
export function drawOverlay() {
  const parts = [];
  const node = state.selected && lastDraw ? lastDraw.nodes.get(state.selected) : null;
  if (node) {
    const b = expand(nodeBox(node), 4);
    parts.push(...frame(b, "live-selection"));
    if (editable()) parts.push(el("rect", { class: "live-handle", "data-handle": "resize", x: b.right - 6, y: b.bottom - 6, width: 12, height: 12, rx: 2 }));
  }
  const focused = state.focused && lastDraw ? lastDraw.fragments.find((f) => f.cellId === state.focused) : null;
  if (focused) { // the keyboard's place, drawn (an outline on an SVG group is not drawn everywhere)
    const b = expand(focused.cell.type === "node" ? nodeBox(focused.cell) : fitViewBox(focused.boxes, 0), 8);
    parts.push(...frame(b, "live-focus-ring"));
  }
  if (state.cursor && state.presenter && !isMe(state.presenter)) {
    const x = round(state.cursor.x), y = round(state.cursor.y);
    cursorMark.setAttribute("transform", `translate(${x} ${y})`);
    cursorMark.dataset.x = x;
    cursorMark.dataset.y = y;
    cursorLabel.textContent = personName(state.presenter);
    parts.push(cursorMark);
  }
  // Straight into the SVG, after the cells, with no group around them: a group's box would cover the
  // labels inside a selected shape (see frame).
  for (const part of overlaid) part.remove();
  overlaid = parts.map((part) => { part.classList.add("live-overlay"); return svg.appendChild(part); });
}

// -- following the presenter ------------------------------------------------------------------------------
export function reveal(target) {
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

export function follow() {
  if (!ui.follow.checked || !state.presenter || isMe(state.presenter)) return;
  draw(); // the canvas must already include what we scroll to
  if (state.cursor) { reveal(pointBox(state.cursor)); return; }
  const boxes = lastDraw.fragments.filter((f) => state.presenterSelection.has(f.cellId)).flatMap((f) => f.boxes);
  if (boxes.length) reveal(fitViewBox(boxes, 0));
}

export function initView() {
  svg.setAttribute("role", "group");
  ui.zoomIn.addEventListener("click", zoomIn);
  ui.zoomOut.addEventListener("click", zoomOut);
  ui.fit.addEventListener("click", fit);
  ui.fullScreen.addEventListener("click", toggleFullScreen);
  // Ctrl + wheel (and a touchpad's pinch, which the browser sends as one) zooms about the pointer.
  ui.viewport.addEventListener("wheel", (event) => {
    if (!event.ctrlKey) return;
    event.preventDefault();
    zoomTo(state.zoom * Math.exp(-event.deltaY / 300), { x: event.clientX, y: event.clientY });
  }, { passive: false });
  updateZoomTools();
}
