// The diagram renderer of portal/diagrams/ (cells.py, geometry.py, shapes.py, render.py), in the browser.
// It draws the same elements, classes and attributes in the same order as the server, so a live update
// looks exactly like the first paint (tests/browser/test_render_parity.py keeps the two equal). Everything
// in a cell is user-written: it only ever reaches the page through setAttribute (values checked as on the
// server) and textContent, never as markup.

export const SVG_NS = "http://www.w3.org/2000/svg";

// -- cells.py ------------------------------------------------------------------------------------------
const EDGE_SHAPES = new Set(["flow", "edge"]);
const NODE_KINDS = { actor: "actor", process: "process", store: "store", "security-boundary": "boundary", "text-box": "text" };
const COORD_LIMIT = 100000;
const MAX_SIZE = 20000;
const MIN_SIZE = 4;
const MAX_CELLS = 5000;
const MAX_LABEL_CHARS = 2000;
const DEFAULT_SIZES = {
  actor: [120, 60], process: [120, 60], store: [120, 60], boundary: [300, 200], text: [120, 40], unknown: [120, 60],
};
const isDict = (v) => v !== null && typeof v === "object" && !Array.isArray(v);
// A user-written key must never reach Object.prototype ("constructor", "__proto__", ...).
const own = (table, key, fallback = undefined) => (Object.hasOwn(table, key) ? table[key] : fallback);
// Python's truthiness, for the server's `a or b`.
const truthy = (v) => (isDict(v) ? Object.keys(v).length > 0 : Array.isArray(v) ? v.length > 0 : Boolean(v));
const dict = (v) => (isDict(v) ? v : {});
const chars = (s) => Array.from(s);
const cut = (s, n) => { const c = chars(s); return c.length > n ? c.slice(0, n).join("") : s; };

export function number(value, fallback = null, low = -COORD_LIMIT, high = COORD_LIMIT) {
  if (typeof value === "boolean") return fallback;
  if (typeof value === "string") {
    const text = value.trim().slice(0, 40);
    if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$|^[-+]?(inf|infinity|nan)$/i.test(text)) return fallback;
    value = /inf/i.test(text) ? (text.startsWith("-") ? -Infinity : Infinity) : Number(text);
  }
  if (typeof value !== "number" || Number.isNaN(value)) return fallback;
  return Math.min(Math.max(value, low), high);
}

function text(value) {
  if (typeof value === "string") return cut(value, MAX_LABEL_CHARS);
  if (typeof value === "number") return String(value);
  return null;
}

const strOrNone = (v) => (typeof v === "string" && v ? cut(v, 200) : null);

function cellId(raw, fallback) {
  const v = raw.id;
  if ((typeof v === "string" || typeof v === "number") && String(v)) return cut(String(v), 200);
  return fallback;
}

function style(attrs, part) {
  const body = dict(attrs[part]);
  const label = dict(truthy(attrs.text) ? attrs.text : attrs.label);
  return {
    fill: strOrNone(body.fill), stroke: strOrNone(body.stroke), strokeWidth: number(body.strokeWidth, null, 0, 20),
    dasharray: strOrNone(body.strokeDasharray), fontSize: number(label.fontSize, null, 6, 72),
    textColor: strOrNone(label.fill),
  };
}

function nodeLabel(raw, attrs) {
  for (const candidate of [dict(attrs.text).text, dict(attrs.label).text, raw.label]) {
    const t = text(candidate);
    if (t !== null) return t;
  }
  return "";
}

const ids = (v) => (Array.isArray(v) ? v.slice(0, MAX_CELLS).filter((i) => typeof i === "string").map((i) => cut(i, 200)) : []);

function ports(raw) {
  const p = raw.ports;
  const items = isDict(p) ? p.items : Array.isArray(p) ? p : [];
  const result = {};
  for (const item of Array.isArray(items) ? items.slice(0, 100) : []) {
    if (isDict(item) && typeof item.id === "string" && typeof item.group === "string") result[item.id] = item.group;
  }
  return result;
}

const pick = (raw, key, nested) => (key in raw ? raw[key] : nested[key === "x" || key === "y" ? key : key]);

function geometry(raw, kind) {
  const position = dict(raw.position), size = dict(raw.size);
  const x = number("x" in raw ? raw.x : position.x);
  const y = number("y" in raw ? raw.y : position.y);
  if (x === null || y === null) return null;
  const [dw, dh] = DEFAULT_SIZES[kind];
  const width = number(pick(raw, "width", size), dw, MIN_SIZE, MAX_SIZE);
  const height = number(pick(raw, "height", size), dh, MIN_SIZE, MAX_SIZE);
  return [x, y, width, height];
}

const shapeOf = (raw) => (typeof raw.shape === "string" ? cut(raw.shape, 100) : "");
const zOf = (raw) => number(raw.zIndex, 1, -1e6, 1e6);

function normaliseNode(raw, fallback) {
  const shape = shapeOf(raw);
  const kind = own(NODE_KINDS, shape, "unknown");
  const g = geometry(raw, kind);
  if (!g) return null;
  const attrs = dict(raw.attrs);
  return {
    type: "node", id: cellId(raw, fallback), shape, kind, x: g[0], y: g[1], width: g[2], height: g[3],
    angle: number(raw.angle, 0, -3600, 3600), label: nodeLabel(raw, attrs), style: style(attrs, "body"),
    parent: strOrNone(raw.parent), children: ids(raw.children), ports: ports(raw), z: zOf(raw),
    visible: raw.visible !== false,
  };
}

function point(v) {
  if (!isDict(v)) return null;
  const x = number(v.x), y = number(v.y);
  return x === null || y === null ? null : [x, y];
}

function terminal(v) {
  if (typeof v === "string" && v) return { cell: cut(v, 200), port: null, point: null };
  if (!isDict(v)) return null;
  const cell = strOrNone(v.cell);
  if (cell) return { cell, port: strOrNone(v.port), point: null };
  const p = point(v);
  return p ? { cell: null, port: null, point: p } : null;
}

function edgeLabel(v) {
  if (typeof v === "string") return v.trim() ? { text: cut(v, MAX_LABEL_CHARS), distance: 0.5, offset: 0 } : null;
  if (!isDict(v)) return null;
  const attrs = dict(v.attrs);
  const t = text(dict(attrs.text).text) || text(dict(attrs.label).text);
  if (!t || !t.trim()) return null;
  const position = v.position;
  let distance, offset;
  if (isDict(position)) {
    distance = number(position.distance, 0.5);
    offset = number(position.offset, 0, -200, 200);
  } else {
    distance = number(position, 0.5);
    offset = 0;
  }
  return { text: t, distance, offset };
}

const MARKER_KINDS = { diamond: "diamond", circle: "circle", ellipse: "circle", circlePlus: "circle" };

function marker(line, key, fallback) {
  if (!(key in line)) return fallback;
  let v = line[key];
  if (isDict(v)) v = "name" in v ? v.name : (Object.keys(v).length ? "custom" : "");
  if (typeof v !== "string" || ["", "none"].includes(v.trim().toLowerCase())) return "";
  return own(MARKER_KINDS, v.trim(), "arrow");
}

const nameOf = (v) => { if (isDict(v)) v = v.name; return typeof v === "string" ? v.slice(0, 40) : ""; };

function normaliseEdge(raw, fallback) {
  const source = terminal(raw.source), target = terminal(raw.target);
  if (!source || !target) return null;
  const attrs = dict(raw.attrs);
  const line = dict(attrs.line);
  const labels = Array.isArray(raw.labels) ? raw.labels.slice(0, 20).map(edgeLabel) : [];
  const flat = text(raw.label);
  if (flat && flat.trim()) labels.push({ text: flat, distance: 0.5, offset: 0 });
  if (!labels.some(Boolean)) labels.push(edgeLabel(raw.defaultLabel));
  const vertices = Array.isArray(raw.vertices) ? raw.vertices.slice(0, 200).map(point).filter(Boolean) : [];
  return {
    type: "edge", id: cellId(raw, fallback), shape: shapeOf(raw), source, target, vertices,
    labels: labels.filter(Boolean), style: style(attrs, "line"),
    sourceMarker: marker(line, "sourceMarker", ""), targetMarker: marker(line, "targetMarker", "arrow"),
    router: nameOf(raw.router), connector: nameOf(raw.connector), z: zOf(raw), visible: raw.visible !== false,
  };
}

export function isEdge(raw) {
  if (EDGE_SHAPES.has(shapeOf(raw))) return true;
  const hasGeometry = ["position", "size", "x", "y"].some((k) => k in raw);
  return !hasGeometry && "source" in raw && "target" in raw;
}

export function normaliseCell(raw, fallback = "") {
  if (!isDict(raw)) return null;
  try {
    return isEdge(raw) ? normaliseEdge(raw, fallback) : normaliseNode(raw, fallback);
  } catch (error) {
    return null; // user data must never take the page down
  }
}

export function visibleParts(rawCells) {
  const byId = new Map();
  (Array.isArray(rawCells) ? rawCells.slice(0, MAX_CELLS) : []).forEach((raw, index) => {
    const cell = normaliseCell(raw, `cell-${index}`);
    if (cell) { byId.delete(cell.id); byId.set(cell.id, cell); }
  });
  const nodes = new Map();
  const edges = [];
  for (const cell of byId.values()) {
    if (!cell.visible) continue;
    if (cell.type === "node") nodes.set(cell.id, cell); else edges.push(cell);
  }
  return [nodes, edges];
}

// -- geometry.py ---------------------------------------------------------------------------------------
const CHAR_WIDTH = 0.56;
const LINE_HEIGHT = 1.25;
const ELLIPSIS = "\u2026";

export const box = (x, y, width, height) => ({ x, y, width, height, right: x + width, bottom: y + height });
const union = (a, b) => { const x = Math.min(a.x, b.x), y = Math.min(a.y, b.y); return box(x, y, Math.max(a.right, b.right) - x, Math.max(a.bottom, b.bottom) - y); };
const contains = (a, b, slack = 0) => a.x - slack <= b.x && a.y - slack <= b.y && b.right <= a.right + slack && b.bottom <= a.bottom + slack;
export const expand = (b, m) => box(b.x - m, b.y - m, b.width + 2 * m, b.height + 2 * m);
const center = (n) => [n.x + n.width / 2, n.y + n.height / 2];
const radians = (d) => (d * Math.PI) / 180;

function rotate(p, c, degrees) {
  if (!degrees) return p;
  const cos = Math.cos(radians(degrees)), sin = Math.sin(radians(degrees));
  const dx = p[0] - c[0], dy = p[1] - c[1];
  return [c[0] + dx * cos - dy * sin, c[1] + dx * sin + dy * cos];
}

const mod = (a, n) => ((a % n) + n) % n;

export function nodeBox(n) {
  const b = box(n.x, n.y, n.width, n.height);
  if (!mod(n.angle, 360)) return b;
  return boundingBox([[b.x, b.y], [b.right, b.y], [b.right, b.bottom], [b.x, b.bottom]].map((p) => rotate(p, center(n), n.angle)));
}

export function boundingBox(points) {
  const xs = points.map((p) => p[0]), ys = points.map((p) => p[1]);
  return box(Math.min(...xs), Math.min(...ys), Math.max(...xs) - Math.min(...xs), Math.max(...ys) - Math.min(...ys));
}

function borderPoint(n, toward) {
  const c = center(n);
  const local = rotate(toward, c, -n.angle);
  let dx = local[0] - c[0], dy = local[1] - c[1];
  if (Math.hypot(dx, dy) < 1e-9) { dx = 1; dy = 0; }
  const hw = n.width / 2, hh = n.height / 2;
  const scale = n.kind === "process"
    ? 1 / Math.sqrt((dx / hw) ** 2 + (dy / hh) ** 2)
    : Math.min(dx ? hw / Math.abs(dx) : Infinity, dy ? hh / Math.abs(dy) : Infinity);
  const x = c[0] + dx * scale;
  let y = c[1] + dy * scale;
  if (n.kind === "store") y = ontoCylinder(n, x, y);
  return rotate([x, y], c, n.angle);
}

const storeCap = (h) => Math.min(h * 0.14, 12);

function ontoCylinder(n, x, y) {
  const cap = storeCap(n.height);
  const bulge = cap * Math.sqrt(Math.max(0, 1 - ((x - center(n)[0]) / (n.width / 2)) ** 2));
  if (y < n.y + cap) return n.y + cap - bulge;
  if (y > n.y + n.height - cap) return n.y + n.height - cap + bulge;
  return y;
}

const PORT_SIDES = { top: [0.5, 0], right: [1, 0.5], bottom: [0.5, 1], left: [0, 0.5] };

function portPoint(n, port) {
  const side = own(PORT_SIDES, own(n.ports, port || "", ""), null);
  if (!side) return null;
  return rotate([n.x + n.width * side[0], n.y + n.height * side[1]], center(n), n.angle);
}

function orthogonal(points, avoid = []) {
  const routed = [points[0]];
  for (const b of points.slice(1)) {
    const a = routed[routed.length - 1];
    if (Math.abs(a[0] - b[0]) > 0.5 && Math.abs(a[1] - b[1]) > 0.5) {
      const corners = [[b[0], a[1]], [a[0], b[1]]];
      if (Math.abs(b[0] - a[0]) < Math.abs(b[1] - a[1])) corners.reverse();
      const free = corners.filter((c) => !avoid.some((bx) => contains(bx, box(c[0], c[1], 0, 0))));
      routed.push(...free.slice(0, 1));
    }
    routed.push(b);
  }
  return routed;
}

const dist = (a, b) => Math.hypot(b[0] - a[0], b[1] - a[1]);
const pathLength = (points) => points.slice(1).reduce((sum, b, i) => sum + dist(points[i], b), 0);

function pointAlong(points, distance) {
  const total = pathLength(points);
  let wanted = distance >= 0 && distance <= 1 ? total * distance : distance > 1 ? Math.min(distance, total) : Math.max(total + distance, 0);
  for (let i = 0; i + 1 < points.length; i++) {
    const a = points[i], b = points[i + 1];
    const step = dist(a, b);
    if (step && wanted <= step) {
      const t = wanted / step;
      return [[a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t], (Math.atan2(b[1] - a[1], b[0] - a[0]) * 180) / Math.PI];
    }
    wanted -= step;
  }
  return [points[points.length - 1], 0];
}

const textWidth = (t, size) => chars(t).length * size * CHAR_WIDTH;

export function wrap(value, maxWidth, fontSize, maxLines) {
  const perLine = Math.max(1, Math.floor(maxWidth / (fontSize * CHAR_WIDTH) + 1e-6));
  maxLines = Math.max(1, maxLines);
  const lines = [];
  for (const paragraph of value.replace(/\r\n/g, "\n").replace(/\r/g, "\n").split("\n")) {
    let current = [];
    for (let word of paragraph.split(/\s+/).filter(Boolean).map(chars)) {
      while (word.length > perLine) {
        if (current.length) { lines.push(current.join("")); current = []; }
        lines.push(word.slice(0, perLine).join(""));
        word = word.slice(perLine);
      }
      const candidate = current.length ? [...current, " ", ...word] : word;
      if (candidate.length <= perLine) current = candidate;
      else { lines.push(current.join("")); current = word; }
    }
    lines.push(current.join(""));
  }
  while (lines.length && !lines[lines.length - 1]) lines.pop();
  if (lines.length <= maxLines) return [lines, false];
  const kept = lines.slice(0, maxLines);
  kept[kept.length - 1] = chars(kept[kept.length - 1]).slice(0, Math.max(0, perLine - 1)).join("").trimEnd() + ELLIPSIS;
  return [kept, true];
}

export function fitViewBox(boxes, margin) {
  if (!boxes.length) return expand(box(0, 0, 200, 100), 0);
  return expand(boxes.slice(1).reduce(union, boxes[0]), margin);
}

// -- svg.py --------------------------------------------------------------------------------------------
const XML_INVALID = /[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
const HEX = /^#(?:[0-9a-fA-F]{3,4}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$/;
const NUM = String.raw`\s*[-+]?(?:\d{1,3}(?:\.\d{1,6})?|\.\d{1,6})%?\s*`;
const RGB = new RegExp(String.raw`^rgba?\(${NUM},${NUM},${NUM}(?:,${NUM})?\)$`, "i");
const NAMED_COLOURS = new Set(("black white red green blue yellow orange purple gray grey silver maroon navy teal olive " +
  "lime aqua fuchsia pink brown gold darkblue darkgreen darkred lightblue lightgreen lightgray lightgrey darkgray " +
  "darkgrey transparent none").split(" "));
const DASHARRAY = /^\d{1,4}(?:\.\d{1,3})?(?:[\s,]+\d{1,4}(?:\.\d{1,3})?){0,7}$/;

// The twin of portal/diagrams/text.py: bidi overrides, isolates and marks, C0 controls but tab and newline,
// DEL and C1 controls are removed from anything shown (names from TMI included). Keep both lists the same.
const DISPLAY_UNSAFE = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
export const cleanDisplayText = (value) => (value === null || value === undefined ? "" : String(value)).replace(DISPLAY_UNSAFE, "");
export const cleanText = (value) => cleanDisplayText(value).replace(XML_INVALID, "");

function colour(value, fallback) {
  if (typeof value === "string") {
    const c = value.trim();
    if (HEX.test(c) || RGB.test(c) || NAMED_COLOURS.has(c.toLowerCase())) return NAMED_COLOURS.has(c.toLowerCase()) ? c.toLowerCase() : c;
  }
  return fallback;
}

function dasharray(value, fallback = null) {
  return typeof value === "string" && DASHARRAY.test(value.trim()) ? value.trim() : fallback;
}

export function fmt(value) {
  // Python's f"{value:.2f}" rounds an exact tie to even; toFixed rounds it up. A double is exactly
  // halfway between two hundredths only when it is a multiple of 1/8 (x.125, x.375, ...).
  const scaled = value * 100;
  let t = Number.isInteger(value * 8) && mod(scaled, 1) === 0.5
    ? (() => { const f = Math.floor(scaled); return ((f % 2 === 0 ? f : f + 1) / 100).toFixed(2); })()
    : value.toFixed(2);
  if (t.includes(".")) t = t.replace(/0+$/, "").replace(/\.$/, "");
  return t === "-0" || t === "" ? "0" : t;
}

// element("g", {class: ...}, children, text): attributes in the given order, like the server's.
export function el(tag, attrs = {}, children = [], textValue = null) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    node.setAttribute(name, typeof value === "number" ? fmt(value) : String(value));
  }
  if (textValue !== null) node.textContent = cleanText(textValue);
  else for (const child of children) if (child) node.appendChild(child);
  return node;
}

// -- shapes.py -----------------------------------------------------------------------------------------
const TEXT_COLOUR = "#1f2933";
const HIGHLIGHT_COLOUR = "#2563eb";
const EDGE_LABEL_WIDTH = 150;
const EDGE_LABEL_LINES = 3;
const CORNER_RADIUS = 10;
const EDITOR_FILLS = new Set(["#fff", "#ffffff", "white"]);
const EDITOR_STROKES = new Set(["#000", "#000000", "black", "#333", "#333333"]);
const look = (fill, stroke, strokeWidth, dash = null, fontSize = 13) => ({ fill, stroke, strokeWidth, dasharray: dash, textColour: TEXT_COLOUR, fontSize });
const DEFAULT_LOOKS = {
  actor: look("#eaf1fb", "#3d5a80", 1.5), process: look("#fff4e0", "#b7791f", 1.5), store: look("#e9f7ef", "#2f855a", 1.5),
  boundary: look("#fdf2f2", "#c53030", 1.5, "8 5", 12), text: look("none", "none", 0), unknown: look("#f4f5f7", "#718096", 1.5),
  edge: look("none", "#4a5568", 1.5, null, 11),
};

function lookFor(kind, s) {
  const base = DEFAULT_LOOKS[kind] || DEFAULT_LOOKS.unknown;
  const fill = EDITOR_FILLS.has((s.fill || "").trim().toLowerCase()) ? null : s.fill;
  const stroke = EDITOR_STROKES.has((s.stroke || "").trim().toLowerCase()) ? null : s.stroke;
  return {
    fill: colour(fill, base.fill), stroke: colour(stroke, base.stroke),
    strokeWidth: s.strokeWidth === null ? base.strokeWidth : Math.min(s.strokeWidth, 8),
    dasharray: dasharray(s.dasharray, base.dasharray), textColour: colour(s.textColor, base.textColour),
    fontSize: s.fontSize || base.fontSize,
  };
}

const outline = (lk) => ({ fill: lk.fill, stroke: lk.stroke, "stroke-width": lk.strokeWidth, "stroke-dasharray": lk.dasharray });
const area = (b, anchor = "middle", top = false) => ({ box: b, anchor, top });
const inset = (n, dx, dy) => box(n.x + dx, n.y + dy, n.width - 2 * dx, n.height - 2 * dy);
const roundedRect = (n, lk, r, extra = {}) => el("rect", { class: "tmi-shape", x: n.x, y: n.y, width: n.width, height: n.height, rx: r, ...outline(lk), ...extra });

const SHAPES = {
  actor(n, lk) {
    const parts = [roundedRect(n, lk, 8)];
    let pad = 10;
    if (n.width >= 90 && n.height >= 44) {
      const size = Math.min(16, n.height / 3);
      const gx = n.x + 8 + size / 2, gy = n.y + 8;
      const f = fmt;
      parts.push(el("path", {
        class: "tmi-glyph", fill: lk.stroke, "fill-opacity": "0.75", // as the server draws it (shapes.py)
        d: `M${f(gx)} ${f(gy)}m-${f(size * 0.22)} ${f(size * 0.25)}` +
          `a${f(size * 0.22)} ${f(size * 0.22)} 0 1 0 ${f(size * 0.44)} 0` +
          `a${f(size * 0.22)} ${f(size * 0.22)} 0 1 0 -${f(size * 0.44)} 0z` +
          `M${f(gx - size / 2)} ${f(gy + size)}` +
          `a${f(size / 2)} ${f(size * 0.42)} 0 0 1 ${f(size)} 0z`,
      }));
      pad = n.width < 140 ? 8 + size + 4 : pad;
    }
    return [parts, area(inset(n, pad, 6))];
  },
  process(n, lk) {
    const [cx, cy] = center(n);
    const w = n.width * 0.74, h = n.height * 0.74;
    return [[el("ellipse", { class: "tmi-shape", cx, cy, rx: n.width / 2, ry: n.height / 2, ...outline(lk) })],
      area(box(cx - w / 2, cy - h / 2, w, h))];
  },
  store(n, lk) {
    const { x, y, width: w, height: h } = n;
    const rx = w / 2, ry = storeCap(h), f = fmt;
    const body = `M${f(x)} ${f(y + ry)}A${f(rx)} ${f(ry)} 0 0 1 ${f(x + w)} ${f(y + ry)}L${f(x + w)} ${f(y + h - ry)}` +
      `A${f(rx)} ${f(ry)} 0 0 1 ${f(x)} ${f(y + h - ry)}Z`;
    const rim = `M${f(x)} ${f(y + ry)}A${f(rx)} ${f(ry)} 0 0 0 ${f(x + w)} ${f(y + ry)}`;
    return [[el("path", { class: "tmi-shape", d: body, ...outline(lk) }), el("path", { class: "tmi-rim", d: rim, ...outline(lk), fill: "none" })],
      area(box(x + 8, y + 2 * ry + 2, w - 16, h - 3 * ry - 4))];
  },
  boundary(n, lk) {
    return [[roundedRect(n, lk, 12, { "fill-opacity": "0.55" })], area(inset(n, 12, 8), "start", true)];
  },
  text(n) { return [[], area(inset(n, 4, 4))]; },
  unknown(n, lk) { return [[roundedRect(n, lk, 3)], area(inset(n, 8, 6))]; },
};

function textBlock(value, ar, lk, cssClass = "tmi-label") {
  const size = lk.fontSize;
  const lineHeight = size * LINE_HEIGHT;
  const maxLines = Math.max(1, Math.floor(Math.max(ar.box.height, lineHeight) / lineHeight));
  const [lines, truncated] = wrap(value, Math.max(ar.box.width, size), size, maxLines);
  if (!lines.length) return [null, false];
  const x = ar.anchor === "start" ? ar.box.x : ar.box.x + ar.box.width / 2;
  const firstTop = ar.top ? ar.box.y : ar.box.y + (ar.box.height - lines.length * lineHeight) / 2;
  const spans = lines.map((line, i) => el("tspan", { x, y: firstTop + i * lineHeight + (lineHeight - size) / 2 + size * 0.8 }, [], line));
  return [el("text", { class: cssClass, "text-anchor": ar.anchor, "font-size": size, fill: lk.textColour, "font-weight": ar.top ? "600" : null }, spans), truncated];
}

const highlightBox = (b) => el("rect", { class: "tmi-highlight", x: b.x - 5, y: b.y - 5, width: b.width + 10, height: b.height + 10, rx: 6, fill: "none", stroke: HIGHLIGHT_COLOUR, "stroke-width": 2.5, "stroke-dasharray": "6 3" });

function nodeSvg(n, highlighted) {
  const lk = lookFor(n.kind, n.style);
  const [parts, ar] = (SHAPES[n.kind] || SHAPES.unknown)(n, lk);
  const [label, truncated] = n.label.trim() ? textBlock(n.label, ar, lk) : [null, false];
  const tooltip = truncated ? el("title", {}, [], n.label) : null;
  const angled = mod(n.angle, 360);
  const [cx, cy] = center(n);
  const body = angled ? [el("g", { transform: `rotate(${fmt(n.angle)} ${fmt(cx)} ${fmt(cy)})` }, [...parts, label])] : [...parts, label];
  return el("g", { class: `tmi-node tmi-${n.kind}`, "data-cell-id": n.id, "data-shape": n.shape || null },
    [tooltip, ...body, highlighted ? highlightBox(nodeBox(n)) : null]);
}

function edgeLabelSvg(label, points, lk) {
  let [[px, py], direction] = pointAlong(points, label.distance);
  if (label.offset) {
    const normal = radians(direction + 90);
    px += label.offset * Math.cos(normal); py += label.offset * Math.sin(normal);
  }
  const size = lk.fontSize;
  const [lines, truncated] = wrap(label.text, EDGE_LABEL_WIDTH, size, EDGE_LABEL_LINES);
  const width = Math.max(0, ...lines.map((l) => textWidth(l, size))) + 8;
  const height = lines.length * size * LINE_HEIGHT + 4;
  const b = box(px - width / 2, py - height / 2, width, height);
  const [textNode] = textBlock(label.text, area(expand(b, -2)), lk, "tmi-edge-text");
  const halo = el("rect", { class: "tmi-halo", x: b.x, y: b.y, width: b.width, height: b.height, rx: 3, fill: "#ffffff", "fill-opacity": "0.92" });
  const tooltip = truncated ? el("title", {}, [], label.text) : null;
  return [el("g", { class: "tmi-edge-label" }, [tooltip, halo, textNode]), b];
}

const towards = (o, t, fr) => [o[0] + (t[0] - o[0]) * fr, o[1] + (t[1] - o[1]) * fr];

function pathD(points, connector = "") {
  const f = fmt;
  if (connector === "smooth" && points.length > 2) {
    const padded = [points[0], ...points, points[points.length - 1]];
    let d = `M${f(points[0][0])} ${f(points[0][1])}`;
    for (let i = 0; i + 3 < padded.length; i++) {
      const [p0, p1, p2, p3] = padded.slice(i, i + 4);
      const c1 = [p1[0] + (p2[0] - p0[0]) / 6, p1[1] + (p2[1] - p0[1]) / 6];
      const c2 = [p2[0] - (p3[0] - p1[0]) / 6, p2[1] - (p3[1] - p1[1]) / 6];
      d += `C${f(c1[0])} ${f(c1[1])} ${f(c2[0])} ${f(c2[1])} ${f(p2[0])} ${f(p2[1])}`;
    }
    return d;
  }
  let d = `M${f(points[0][0])} ${f(points[0][1])}`;
  for (let i = 0; i + 2 < points.length; i++) {
    const [a, corner, b] = points.slice(i, i + 3);
    const radius = connector === "rounded" ? Math.min(CORNER_RADIUS, dist(a, corner) / 2, dist(corner, b) / 2) : 0;
    if (radius <= 0) { d += `L${f(corner[0])} ${f(corner[1])}`; continue; }
    const into = towards(corner, a, radius / dist(a, corner));
    const out = towards(corner, b, radius / dist(corner, b));
    d += `L${f(into[0])} ${f(into[1])}Q${f(corner[0])} ${f(corner[1])} ${f(out[0])} ${f(out[1])}`;
  }
  const last = points[points.length - 1];
  return d + `L${f(last[0])} ${f(last[1])}`;
}

function edgeSvg(edge, points, lk, markerStart, markerEnd, highlighted) {
  const d = pathD(points, edge.connector);
  const parts = [];
  if (highlighted) {
    parts.push(el("path", { class: "tmi-highlight", d, fill: "none", stroke: HIGHLIGHT_COLOUR, "stroke-width": lk.strokeWidth + 6, "stroke-opacity": "0.35", "stroke-linecap": "round", "stroke-linejoin": "round" }));
  }
  parts.push(el("path", {
    class: "tmi-line", d, fill: "none", stroke: lk.stroke, "stroke-width": lk.strokeWidth, "stroke-dasharray": lk.dasharray,
    "stroke-linejoin": "round", "marker-start": markerStart ? `url(#${markerStart})` : null, "marker-end": markerEnd ? `url(#${markerEnd})` : null,
  }));
  const boxes = [];
  for (const label of edge.labels) {
    const [g, b] = edgeLabelSvg(label, points, lk);
    parts.push(g);
    boxes.push(b);
  }
  return [el("g", { class: "tmi-edge", "data-cell-id": edge.id, "data-shape": edge.shape || null }, parts), boxes];
}

// -- render.py -----------------------------------------------------------------------------------------
export const MARGIN = 24;
const SELF_LOOP_REACH = 36;
const ORTHOGONAL_ROUTERS = new Set(["orth", "manhattan", "metro", "er", "oneSide", "one_side"]);
const MARKER_PATHS = {
  arrow: ["M0 0L10 5L0 10Z", "M10 0L0 5L10 10Z"],
  diamond: ["M0 5L5 0L10 5L5 10Z", "M0 5L5 0L10 5L5 10Z"],
  circle: ["M0 5A5 5 0 1 0 10 5A5 5 0 1 0 0 5Z", "M0 5A5 5 0 1 0 10 5A5 5 0 1 0 0 5Z"],
};

// The server names a marker by the SHA-1 of its colour, so fragments drawn here refer to its <defs>.
function sha1(message) {
  const bytes = new TextEncoder().encode(message);
  const words = [];
  const length = bytes.length;
  const padded = new Uint8Array(((length + 9 + 63) >> 6) << 6);
  padded.set(bytes);
  padded[length] = 0x80;
  const view = new DataView(padded.buffer);
  view.setUint32(padded.length - 4, length * 8);
  let [h0, h1, h2, h3, h4] = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0];
  for (let offset = 0; offset < padded.length; offset += 64) {
    for (let i = 0; i < 16; i++) words[i] = view.getUint32(offset + i * 4);
    for (let i = 16; i < 80; i++) { const w = words[i - 3] ^ words[i - 8] ^ words[i - 14] ^ words[i - 16]; words[i] = (w << 1) | (w >>> 31); }
    let [a, b, c, d, e] = [h0, h1, h2, h3, h4];
    for (let i = 0; i < 80; i++) {
      const [fn, k] = i < 20 ? [(b & c) | (~b & d), 0x5a827999] : i < 40 ? [b ^ c ^ d, 0x6ed9eba1]
        : i < 60 ? [(b & c) | (b & d) | (c & d), 0x8f1bbcdc] : [b ^ c ^ d, 0xca62c1d6];
      const t = (((a << 5) | (a >>> 27)) + fn + e + k + words[i]) >>> 0;
      e = d; d = c; c = (b << 30) | (b >>> 2); b = a; a = t;
    }
    h0 = (h0 + a) >>> 0; h1 = (h1 + b) >>> 0; h2 = (h2 + c) >>> 0; h3 = (h3 + d) >>> 0; h4 = (h4 + e) >>> 0;
  }
  return [h0, h1, h2, h3, h4].map((h) => (h >>> 0).toString(16).padStart(8, "0")).join("");
}

export class Markers {
  constructor(prefix) { this.prefix = prefix; this.ids = new Map(); }
  get(kind, colourValue, start) {
    if (!MARKER_PATHS[kind]) return null;
    const key = `${kind}\u0000${colourValue}\u0000${start}`;
    if (!this.ids.has(key)) this.ids.set(key, { kind, colour: colourValue, start, id: `${this.prefix}-${kind}-${start ? "start" : "end"}-${sha1(colourValue).slice(0, 8)}` });
    return this.ids.get(key).id;
  }
  elements() {
    return [...this.ids.values()].map(({ kind, colour: c, start, id }) => el("marker",
      { id, viewBox: "0 0 10 10", refX: start ? "0" : "10", refY: "5", markerWidth: "8", markerHeight: "8", orient: "auto" },
      [el("path", { d: MARKER_PATHS[kind][start ? 1 : 0], fill: c })]));
  }
}

const reference = (t, n) => (n ? center(n) : t.point || [0, 0]);
const anchor = (t, n, toward) => (n ? portPoint(n, t.port) || borderPoint(n, toward) : reference(t, null));
const inner = (t, n) => (n ? portPoint(n, t.port) : null) || reference(t, n);

function route(edge, nodes) {
  const ends = [];
  for (const t of [edge.source, edge.target]) {
    const n = t.cell ? nodes.get(t.cell) : null;
    if (t.cell && !n) return null;
    ends.push(n || null);
  }
  const [source, target] = ends;
  let vertices = [...edge.vertices];
  if (source && source === target && !vertices.length) {
    const x = nodeBox(source).right + SELF_LOOP_REACH, cy = center(source)[1];
    vertices = [[x, cy - source.height / 4], [x, cy + source.height / 4]];
  }
  if (ORTHOGONAL_ROUTERS.has(edge.router)) {
    const avoid = [source, target].filter(Boolean).map(nodeBox);
    const elbows = orthogonal([inner(edge.source, source), ...vertices, inner(edge.target, target)], avoid);
    const start = anchor(edge.source, source, elbows[1]), end = anchor(edge.target, target, elbows[elbows.length - 2]);
    return [start, ...elbows.slice(1, -1), end];
  }
  const start = anchor(edge.source, source, vertices.length ? vertices[0] : reference(edge.target, target));
  const end = anchor(edge.target, target, vertices.length ? vertices[vertices.length - 1] : reference(edge.source, source));
  return [start, ...vertices, end];
}

const layer = (c) => (c.type === "edge" ? 1 : c.kind === "boundary" ? 0 : 2);
const LABEL_SPOTS = Array.from({ length: 15 }, (_, i) => (i + 3) / 20);
const overlaps = (a, b) => a.x < b.right && b.x < a.right && a.y < b.bottom && b.y < a.bottom;

function labelFraction(label, length) {
  if (!length) return 0.5;
  if (label.distance >= 0 && label.distance <= 1) return label.distance;
  if (label.distance > 1) return Math.min(label.distance / length, 1);
  return Math.max((length + label.distance) / length, 0);
}

function freeLabels(edge, points, lk, obstacles) {
  if (!edge.labels.length || !obstacles.length) return edge;
  const length = pathLength(points);
  const placed = [];
  const labels = [];
  for (const label of edge.labels) {
    let chosen = label;
    let b = edgeLabelSvg(label, points, lk)[1];
    if ([...obstacles, ...placed].some((o) => overlaps(b, o))) {
      const here = labelFraction(label, length);
      const spots = [...LABEL_SPOTS].sort((p, q) => Math.abs(p - here) - Math.abs(q - here) || p - q);
      for (const spot of spots) {
        const moved = { ...label, distance: spot };
        const mb = edgeLabelSvg(moved, points, lk)[1];
        if (![...obstacles, ...placed].some((o) => overlaps(mb, o))) { chosen = moved; b = mb; break; }
      }
    }
    labels.push(chosen);
    placed.push(b);
  }
  return { ...edge, labels };
}

// Every visible cell drawn in paint order: [{cellId, element, boxes}], as render.cell_fragments.
export function drawCells(rawCells, markers, highlight = new Set()) {
  const [nodes, edges] = visibleParts(rawCells);
  const obstacles = [...nodes.values()].filter((n) => n.kind !== "boundary").map(nodeBox);
  const ordered = [...nodes.values(), ...edges].map((c, i) => [i, c])
    .sort((p, q) => layer(p[1]) - layer(q[1]) || p[1].z - q[1].z || p[0] - q[0]).map((p) => p[1]);
  const fragments = [];
  for (let cell of ordered) {
    if (cell.type === "node") {
      fragments.push({ cellId: cell.id, cell, element: nodeSvg(cell, highlight.has(cell.id)), boxes: [nodeBox(cell)] });
      continue;
    }
    const points = route(cell, nodes);
    if (!points) continue;
    const lk = lookFor("edge", cell.style);
    cell = freeLabels(cell, points, lk, obstacles);
    const [element, labelBoxes] = edgeSvg(cell, points, lk, markers.get(cell.sourceMarker, lk.stroke, true),
      markers.get(cell.targetMarker, lk.stroke, false), highlight.has(cell.id));
    fragments.push({ cellId: cell.id, cell, element, boxes: [boundingBox(points), ...labelBoxes], points });
  }
  return { fragments, nodes };
}

export function emptyNote(viewBox) {
  return el("text", { class: "tmi-empty", x: viewBox.x + viewBox.width / 2, y: viewBox.y + viewBox.height / 2, "text-anchor": "middle", "font-size": "13", fill: "#6b7280" }, [], "This diagram is empty.");
}
