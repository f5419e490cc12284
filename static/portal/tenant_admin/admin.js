// Tenant admin pages: listen for changes made by other admins and offer a reload.
// Text from the server goes in with textContent only; nothing here builds HTML from strings.
(function () {
  "use strict";
  // A Copy button beside a read-only box (data-copy: the box's id); its words come from the template.
  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    var source = document.getElementById(button.getAttribute("data-copy"));
    var state = document.getElementById(button.id + "-state");
    if (!source) { return; }
    button.hidden = false; // without JavaScript there is nothing to press: the link is selected by hand
    function said(words) { if (state) { state.textContent = words; } }
    button.addEventListener("click", function () {
      var copied = function () { button.setAttribute("data-copied-state", "true"); said(button.getAttribute("data-copied")); };
      var fallback = function () {
        source.focus();
        source.select();
        try { if (document.execCommand("copy")) { copied(); return; } } catch (error) { /* below */ }
        said(button.getAttribute("data-copy-failed"));
      };
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(source.value).then(copied, fallback);
      } else {
        fallback();
      }
    });
  });

  // The schedule form: only the rows the chosen kind and frequency need are shown (the server renders the same
  // choice; this follows a change without asking it again), and the threat-model list narrows as one types.
  var fields = document.getElementById("schedule-fields");
  if (fields) {
    var kind = document.getElementById("id_kind");
    var frequency = document.getElementById("id_frequency");
    var refresh = document.getElementById("schedule-refresh");
    if (refresh) { refresh.hidden = true; }
    var follow = function () {
      fields.querySelectorAll("[data-when-kind]").forEach(function (row) {
        row.hidden = !kind || row.getAttribute("data-when-kind") !== kind.value;
      });
      fields.querySelectorAll("[data-when-frequency]").forEach(function (row) {
        row.hidden = !frequency || row.getAttribute("data-when-frequency") !== frequency.value;
      });
    };
    if (kind) { kind.addEventListener("change", follow); }
    if (frequency) { frequency.addEventListener("change", follow); }
    var search = document.getElementById("threat-model-search");
    var list = search && document.getElementById(search.getAttribute("data-filters"));
    if (search && list) {
      search.closest(".schedule-search").hidden = false;
      var count = document.getElementById("threat-model-search-count");
      search.addEventListener("input", function () {
        var words = search.value.trim().toLowerCase();
        var shown = 0;
        Array.prototype.forEach.call(list.options, function (option) {
          if (!option.value) { return; } // "Choose a threat model" stays
          var match = !words || option.text.toLowerCase().indexOf(words) !== -1 || option.selected;
          option.hidden = !match;
          if (match) { shown += 1; }
        });
        count.textContent = words ? (shown === 1 ? search.getAttribute("data-count-one") :
          search.getAttribute("data-count-many").replace("%(n)s", String(shown))) : "";
      });
    }
  }

  var box = document.getElementById("admin-live");
  if (!box || !("WebSocket" in window)) { return; }
  var me = box.getAttribute("data-me");
  var delay = 1000;

  function show(event) {
    if (String(event.actor_id) === me) { return; } // our own change: this page already shows it
    box.textContent = "";
    var text = document.createElement("span");
    var who = event.actor || "?";
    text.textContent = (event.summary ? who + " " + event.summary : box.getAttribute("data-changed-by") + " " + who) +
      ". ";
    var button = document.createElement("button");
    button.type = "button";
    button.className = "button";
    button.textContent = box.getAttribute("data-reload");
    button.addEventListener("click", function () { window.location.reload(); });
    box.appendChild(text);
    box.appendChild(button);
    box.hidden = false;
    box.setAttribute("data-changed-section", event.section || "");
  }

  function connect() {
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + window.location.host + box.getAttribute("data-socket-path"));
    socket.addEventListener("open", function () { delay = 1000; box.setAttribute("data-connected", "true"); });
    socket.addEventListener("message", function (message) {
      try { show(JSON.parse(message.data)); } catch (error) { /* not ours: ignore */ }
    });
    socket.addEventListener("close", function (closed) {
      box.removeAttribute("data-connected");
      if (closed.code === 4404) { return; } // no longer an admin here: stop asking
      window.setTimeout(connect, delay);
      delay = Math.min(delay * 2, 30000);
    });
  }

  // Ask before removing someone (forms marked data-confirm); no inline handlers.
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) { event.preventDefault(); }
    });
  });

  connect();
})();
