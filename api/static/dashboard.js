// Paylink dashboard: live regions over server-sent events, copy buttons, confirmations.
// Everything works without this file; it only makes the pages live and handy.
(function () {
  "use strict";
  var main = document.querySelector("main[data-stream]");
  if (main && window.EventSource) {
    var source = new EventSource(main.getAttribute("data-stream"));
    source.addEventListener("regions", function (message) {
      var regions = JSON.parse(message.data);
      Object.keys(regions).forEach(function (name) {
        document.querySelectorAll('[data-live="' + name + '"]').forEach(function (el) {
          el.innerHTML = regions[name]; // HTML the server rendered and escaped
        });
      });
      document.body.setAttribute("data-live-updates",
        String(Number(document.body.getAttribute("data-live-updates") || 0) + 1));
    });
    source.addEventListener("open", function () {
      document.body.setAttribute("data-live", "connected");
    });
    window.addEventListener("pagehide", function () { source.close(); });
  }
  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-copy]") : null;
    if (!button || !navigator.clipboard) return;
    event.preventDefault();
    navigator.clipboard.writeText(button.getAttribute("data-copy")).then(function () {
      button.textContent = button.getAttribute("data-copied") || button.textContent;
    });
  });
  document.addEventListener("submit", function (event) {
    var question = event.target.getAttribute("data-confirm");
    if (question && !window.confirm(question)) event.preventDefault();
  });
  // The amount fields of the create form follow the chosen kind of amount.
  var kinds = document.querySelectorAll("input[name=amount_kind]");
  function showKind() {
    var chosen = document.querySelector("input[name=amount_kind]:checked");
    document.querySelectorAll("[data-kind]").forEach(function (el) {
      el.hidden = chosen ? el.getAttribute("data-kind").split(" ").indexOf(chosen.value) < 0 : false;
    });
  }
  kinds.forEach(function (input) { input.addEventListener("change", showKind); });
  if (kinds.length) showKind();
  // A bulk upload's page follows its progress (a small JSON poll) until its rows are done.
  var bulk = document.querySelector("[data-bulk-progress]");
  function showBulk(progress) {
    var bar = bulk.querySelector("progress");
    bar.max = Math.max(progress.total, 1);
    bar.value = progress.done;
    bulk.querySelector("[data-testid=bulk-percent]").textContent = progress.percent + "%";
    var rows = bulk.querySelector("[data-testid=bulk-rows]");
    rows.textContent = rows.getAttribute("data-template")
      .replace("{done}", progress.done).replace("{total}", progress.total);
    ["created", "existing", "errors"].forEach(function (name) {
      bulk.querySelector('[data-bulk="' + name + '"]').textContent = progress[name];
    });
    var state = bulk.querySelector("[data-testid=bulk-state]");
    state.textContent = state.getAttribute("data-label-" + progress.state) || progress.state;
    state.setAttribute("data-state", progress.state);
    var failure = bulk.querySelector("[data-testid=bulk-failure]");
    failure.textContent = progress.failure || "";
    failure.hidden = !progress.failure;
    bulk.querySelector("[data-testid=bulk-done]").hidden = !progress.result;
  }
  function pollBulk() {
    window.fetch(bulk.getAttribute("data-bulk-progress"), { credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        // Signed out: stop. Anything else (a 404 from another worker process of the
        // server, which does not hold this upload) is asked again a little later.
        if (response.status === 401) return { gone: true };
        return response.ok ? response.json() : null;
      })
      .then(function (progress) {
        if (progress && progress.gone) return;
        if (progress) showBulk(progress);
        if (!progress || !progress.finished) window.setTimeout(pollBulk, progress ? 250 : 1000);
      }, function () { window.setTimeout(pollBulk, 1000); });
  }
  if (bulk && window.fetch && bulk.getAttribute("data-finished") !== "true") pollBulk();
  // The branding form: the button preview takes the colour as it is typed or picked
  // (the server checks it, and its contrast, when the form is saved).
  var colorText = document.querySelector("[data-brand-color]");
  var picker = document.querySelector("[data-brand-picker]");
  var preview = document.querySelector("[data-testid=preview-button]");
  var fallback = document.querySelector("[data-default-color]");
  function showColor() {
    var typed = colorText.value.trim();
    var valid = /^#[0-9a-fA-F]{6}$/.test(typed);
    preview.style.backgroundColor = valid ? typed : fallback.getAttribute("data-default-color");
    if (valid && picker) picker.value = typed.toLowerCase();
  }
  if (colorText && preview && fallback) {
    colorText.addEventListener("input", showColor);
    if (picker) {
      picker.addEventListener("input", function () { colorText.value = picker.value; showColor(); });
    }
    showColor();
  }
})();
