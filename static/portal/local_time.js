// Dates in the reader's own format and time zone: each <time data-local-time datetime="…"> is rewritten with
// the browser's locale (the page's language first) and zone. Without JavaScript the server's words stay (UTC).
(function () {
  "use strict";
  // The reader's own variant of the page's language (en-GB for an "en" page read in en-GB), else the page's.
  var page = (document.documentElement.lang || "").toLowerCase();
  var own = (navigator.languages || [navigator.language]).filter(function (tag) {
    return tag && (!page || tag.toLowerCase() === page || tag.toLowerCase().indexOf(page + "-") === 0);
  })[0];
  var lang = own || page || undefined;
  document.querySelectorAll("time[data-local-time]").forEach(function (node) {
    var when = new Date(node.getAttribute("datetime"));
    if (isNaN(when.getTime())) { return; }
    var options = { dateStyle: "medium", timeStyle: "short" };
    var zone;
    try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone; } catch (error) { zone = ""; }
    var words;
    try { words = new Intl.DateTimeFormat(lang, options).format(when); }
    catch (error) { words = when.toLocaleString(); }
    node.textContent = zone ? words + " (" + zone + ")" : words;
    node.setAttribute("data-local-zone", zone || "");
  });
})();
