// kvkit serve's dashboard: the little script it needs, no build step.
"use strict";

// Relative times: every .rel[data-unix] says "in 3 m" or "4 s ago", kept
// current once a second (the same wording as the server's first render).
function relative(unix) {
  let s = Math.trunc(unix - Date.now() / 1000);
  const past = s < 0;
  if (past) s = -s;
  let txt;
  if (s < 60) txt = s + " s";
  else if (s < 3600) txt = Math.floor(s / 60) + " m";
  else if (s < 48 * 3600) txt = Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " m";
  else txt = Math.floor(s / 86400) + " d";
  return past ? txt + " ago" : "in " + txt;
}

function tick() {
  for (const el of document.querySelectorAll(".rel[data-unix]")) {
    const t = relative(Number(el.dataset.unix));
    if (el.textContent !== t) el.textContent = t;
    el.classList.toggle("past", t.endsWith("ago"));
  }
}

// Forms with data-confirm ask first (deleting a key or a namespace).
document.addEventListener("submit", (e) => {
  const msg = e.target.dataset.confirm;
  if (msg && !window.confirm(msg)) e.preventDefault();
});

document.addEventListener("DOMContentLoaded", () => {
  tick();
  setInterval(tick, 1000);
  // Choosing a file makes it the value: say so in the textarea.
  const file = document.getElementById("put-file");
  const text = document.getElementById("put-value");
  if (file && text) {
    file.addEventListener("change", () => {
      text.disabled = file.files.length > 0;
    });
  }
});
