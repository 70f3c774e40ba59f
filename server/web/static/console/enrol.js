// The enrolment request's page (console/enrolments/show.html), kept up to date: asks the
// request's state every second and shows it, until the request is over (a card bound,
// refused, time up, cancelled). Without this script the page has its refresh button.
(function () {
  "use strict";
  var box = document.getElementById("enrolment");
  if (!box) { return; }
  var url = box.getAttribute("data-state-url");
  var name = document.getElementById("enrol-name");
  var text = document.getElementById("enrol-text");
  var actions = document.getElementById("enrol-actions");
  var done = document.getElementById("enrol-done");
  var PERIOD_MS = 1000;

  function show(view) {
    box.setAttribute("data-state", view.state);
    name.textContent = view.name;
    text.textContent = view.text;
    if (view.done) {
      actions.hidden = true;
      done.hidden = false;
    }
  }

  function poll() {
    fetch(url, { credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok || (response.headers.get("content-type") || "").indexOf("json") < 0) {
          throw new Error("no state");
        }
        return response.json();
      })
      .then(function (view) {
        show(view);
        if (!view.done) { window.setTimeout(poll, PERIOD_MS); }
      })
      .catch(function () { window.setTimeout(poll, PERIOD_MS * 5); });
  }

  if (box.getAttribute("data-state") === "waiting") { window.setTimeout(poll, PERIOD_MS); }
})();
