// A threat model's diagrams, one at a time over the whole screen (templates/dashboard/threat_model.html): the drawing is
// moved into the page's <dialog> while it is open (so its ids stay unique) and back when it closes. Zoom in and out
// with the buttons, pinch on a phone, and scroll to move around. The words are the template's.
(function () {
  "use strict";
  // A diagram's text is painted with its fill, on its shape's fill (or a flow label's white halo, or the canvas'
  // white). Both are stated as CSS too, colour on the text and background on its group, which changes nothing drawn:
  // that is what axe-core and other contrast checkers read, SVG fills being beyond them.
  function rgba(element) {
    var style = getComputedStyle(element);
    var match = /rgba?\(([^)]+)\)/.exec(style.fill || "");
    if (!match) { return null; }
    var parts = match[1].split(",").map(parseFloat);
    var alpha = (parts.length > 3 ? parts[3] : 1) * parseFloat(style.fillOpacity || "1") * parseFloat(style.opacity || "1");
    return [parts[0], parts[1], parts[2], alpha];
  }
  function backdrop(text) {
    var group = text.closest(".tmi-edge-label, .tmi-node");
    var shape = group && group.querySelector(".tmi-halo, .tmi-shape");
    var paint = shape ? rgba(shape) : null;
    if (!paint) { return "rgb(255, 255, 255)"; }
    return "rgb(" + [0, 1, 2].map(function (i) { return Math.round(paint[i] * paint[3] + 255 * (1 - paint[3])); }).join(", ") + ")";
  }
  Array.prototype.forEach.call(document.querySelectorAll("svg.tmi-diagram text"), function (text) {
    text.style.color = getComputedStyle(text).fill;
    text.parentNode.style.backgroundColor = backdrop(text);
  });

  var dialog = document.getElementById("diagram-dialog");
  if (!dialog || typeof dialog.showModal !== "function") { return; }  // without <dialog>, the diagrams stay as they are
  var body = dialog.querySelector(".diagram-dialog-body");
  var title = dialog.querySelector(".diagram-dialog-title");
  var level = dialog.querySelector(".diagram-zoom-level");
  var STEPS = [1, 1.5, 2, 3, 4, 6];
  var step = 0;
  var shown = null;  // {canvas, figure, opener} while the dialog is open

  function zoom(to) {
    step = Math.max(0, Math.min(STEPS.length - 1, to));
    var svg = body.querySelector("svg");
    if (svg) { svg.style.width = STEPS[step] * 100 + "%"; }
    level.textContent = STEPS[step] * 100 + "%";
    dialog.querySelector('[data-zoom="out"]').disabled = step === 0;
    dialog.querySelector('[data-zoom="in"]').disabled = step === STEPS.length - 1;
  }

  function open(figure, opener) {
    var canvas = figure.querySelector(".diagram-canvas");
    shown = {canvas: canvas, figure: figure, opener: opener};
    title.textContent = figure.getAttribute("data-diagram-name") || "";
    body.appendChild(canvas);
    dialog.showModal();
    zoom(0);
    body.scrollTo(0, 0);
  }

  dialog.addEventListener("close", function () {
    if (!shown) { return; }
    var svg = shown.canvas.querySelector("svg");
    if (svg) { svg.style.width = ""; }
    shown.figure.insertBefore(shown.canvas, shown.figure.firstChild);
    shown.opener.focus();
    shown = null;
  });

  dialog.querySelector(".diagram-close").addEventListener("click", function () { dialog.close(); });
  dialog.querySelector('[data-zoom="in"]').addEventListener("click", function () { zoom(step + 1); });
  dialog.querySelector('[data-zoom="out"]').addEventListener("click", function () { zoom(step - 1); });
  dialog.querySelector('[data-zoom="fit"]').addEventListener("click", function () { zoom(0); });

  Array.prototype.forEach.call(document.querySelectorAll("figure.diagram"), function (figure) {
    var button = figure.querySelector(".diagram-open");
    if (!button) { return; }
    button.hidden = false;
    button.addEventListener("click", function () { open(figure, button); });
  });
})();
