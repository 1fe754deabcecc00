// Live refresh: every element with data-live is re-fetched when the server says something changed.
(function () {
  "use strict";
  const targets = Array.from(document.querySelectorAll("[data-live]"));
  let pending = null;

  function refresh() {
    pending = null;
    targets.forEach(function (el) {
      fetch(el.dataset.live, { credentials: "same-origin", headers: { Accept: "text/html" } })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) {
          if (html === null) { return; }
          const atBottom = el.scrollTop + el.clientHeight >= el.scrollHeight - 8;
          el.innerHTML = html;
          if (atBottom) { el.scrollTop = el.scrollHeight; }
          document.body.dataset.refreshed = String(Date.now());
        });
    });
  }

  if (targets.length && window.EventSource) {
    const source = new EventSource("/backoffice/events");
    source.onmessage = function () {
      if (!pending) { pending = setTimeout(refresh, 200); }  // a burst of events: one refresh
    };
    source.onopen = function () { document.body.dataset.live = "on"; };
  }

  targets.forEach(function (el) { el.scrollTop = el.scrollHeight; });

  const canned = document.getElementById("canned");
  if (canned) {
    canned.addEventListener("change", function () {
      const box = document.getElementById(canned.dataset.target);
      if (box && canned.value) { box.value = canned.value; box.focus(); }
    });
  }
})();
