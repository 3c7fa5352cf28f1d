// The admin console's Software page: starts a change to the members' environments through the admin API and
// follows its job (pip's lines) until it ends, then reloads the page to show the environments as they are.
(function () {
  "use strict";
  const root = document.getElementById("software-console");
  if (!root) return;
  const API = root.dataset.api; // /api/admin/v1
  const CSRF = root.dataset.csrf;
  const POLL_MS = 1000;
  const status = document.getElementById("software-status");
  const log = document.getElementById("software-log");
  let busy = false;

  function say(text, bad) {
    status.textContent = text;
    status.classList.toggle("bad-text", !!bad);
  }

  async function call(method, path, body) {
    const headers = {"Accept": "application/json"};
    if (method !== "GET") { headers["X-CSRF-Token"] = CSRF; headers["Content-Type"] = "application/json"; }
    const response = await fetch(API + path, {method: method, headers: headers, credentials: "same-origin",
                                              body: body === undefined ? undefined : JSON.stringify(body)});
    let answer = null;
    try { answer = await response.json(); } catch (e) { answer = null; }
    if (!response.ok) throw new Error(answer && answer.error ? answer.error : "the portal answered " + response.status + ".");
    return answer;
  }

  function show(job) {
    log.hidden = false;
    log.textContent = job.lines.join("\n");
    log.scrollTop = log.scrollHeight;
  }

  async function follow(job) {
    const what = {add: "Installing " + job.packages.join(", ") + " into " + job.env,
                  remove: "Removing " + job.packages.join(", ") + " from " + job.env,
                  create: "Making the environment " + job.env}[job.action];
    while (job.state === "running") {
      say(what + "… (" + job.lines.length + " lines so far)");
      show(job);
      await new Promise(function (resolve) { setTimeout(resolve, POLL_MS); });
      job = (await call("GET", "/environments/jobs/" + job.id)).job;
    }
    show(job);
    if (job.state === "succeeded") {
      say(what + ": done. New kernels have it.");
      setTimeout(function () { window.location.reload(); }, 1500);
    } else {
      say(what + " failed: " + job.error.split("\n")[0], true);
    }
  }

  async function start(method, path, body) {
    if (busy) return;
    busy = true;
    try {
      await follow((await call(method, path, body)).job);
    } catch (error) {
      say(error.message, true);
    } finally {
      busy = false;
    }
  }

  document.getElementById("software-add").addEventListener("submit", function (event) {
    event.preventDefault();
    const env = document.getElementById("software-env").value;
    const packages = document.getElementById("software-packages").value.split(/\s+/).filter(Boolean);
    start("POST", "/environments/" + encodeURIComponent(env) + "/packages", {packages: packages});
  });
  document.getElementById("software-create").addEventListener("submit", function (event) {
    event.preventDefault();
    start("POST", "/environments", {name: document.getElementById("software-new-name").value.trim()});
  });
  root.addEventListener("click", function (event) {
    const button = event.target.closest("button[data-remove]");
    if (!button) return;
    if (!window.confirm("Remove " + button.dataset.remove + " from " + button.dataset.env + "? Notebooks that import it will fail in new kernels.")) return;
    start("POST", "/environments/" + encodeURIComponent(button.dataset.env) + "/packages/remove",
          {packages: [button.dataset.remove]});
  });
})();
