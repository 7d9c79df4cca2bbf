// Rewrites every <time data-local> (written by the server in UTC, zone shown) in the
// browser's own time zone, in the page's language. Without script the UTC text stays.
(function () {
  "use strict";
  if (!window.Intl || !Intl.DateTimeFormat) return;
  var styles = { short: "short", medium: "medium", long: "long", full: "full" };
  var lang = document.documentElement.lang || "en";
  document.querySelectorAll("time[data-local][datetime]").forEach(function (el) {
    var when = new Date(el.getAttribute("datetime"));
    if (isNaN(when.getTime())) return;
    var style = styles[el.getAttribute("data-local")] || "medium";
    try {
      el.textContent = new Intl.DateTimeFormat(lang, {
        dateStyle: style, timeStyle: style === "full" ? "long" : style === "short" ? "short" : "medium",
        timeZoneName: undefined
      }).format(when) + " " + zoneName(when, lang);
      el.title = el.getAttribute("datetime");
    } catch (e) { /* keep the server's UTC text */ }
  });
  function zoneName(when, lang) {
    var parts = new Intl.DateTimeFormat(lang, { timeZoneName: "short" }).formatToParts(when);
    for (var i = 0; i < parts.length; i++) if (parts[i].type === "timeZoneName") return parts[i].value;
    return "";
  }
})();
