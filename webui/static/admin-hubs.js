// The admin console's Hubs page: the hubs' live state (polled every 2 s), drain / undrain / restart
// through the admin API, and the chart of servers running and members active over 24 h or 7 days,
// drawn here as SVG from the portal's own samples. No library, no reload.
(function () {
  "use strict";
  const root = document.getElementById("hubs-console");
  if (!root) return;
  const API = root.dataset.api; // /api/admin/v1
  const CSRF = root.dataset.csrf;
  const POLL_MS = 2000;
  const HISTORY_MS = 15000;
  const SVG = "http://www.w3.org/2000/svg";
  const COLORS = ["#1f4e79", "#c0392b", "#1f9d55", "#8e44ad", "#b9770e", "#117a8b", "#5d6b7a", "#d35400"];
  const STATE_WORDS = {routable: "routable", suspect: "suspect", dead: "dead", draining: "draining", restarting: "restarting",
                       unregistered: "not registered"};
  let windowName = root.dataset.initialWindow || "24h";
  let busy = false;
  let holdUntil = 0; // an action's outcome stays in the status line this long before "Live" replaces it

  const status = document.getElementById("hubs-status");
  const tbody = document.getElementById("hubs-rows");
  const totals = document.getElementById("hubs-totals");
  const chart = document.getElementById("hubs-chart");
  const legend = document.getElementById("hubs-legend");
  const chartNote = document.getElementById("hubs-chart-note");

  function say(text, bad) {
    status.textContent = text;
    status.classList.toggle("bad-text", !!bad);
  }

  async function call(method, path) {
    const headers = {"Accept": "application/json"};
    if (method !== "GET") headers["X-CSRF-Token"] = CSRF;
    const response = await fetch(API + path, {method: method, headers: headers, credentials: "same-origin"});
    let body = null;
    try { body = await response.json(); } catch (e) { body = null; }
    if (!response.ok) {
      const why = body && body.error ? body.error : "the portal answered " + response.status + ".";
      throw new Error(why);
    }
    return body;
  }

  function bytes(value) {
    if (value === null || value === undefined) return "—";
    const units = ["B", "KB", "MB", "GB", "TB"];
    let n = value, unit = 0;
    while (n >= 1024 && unit < units.length - 1) { n /= 1024; unit += 1; }
    return (unit ? n.toFixed(1) : String(n)) + " " + units[unit];
  }

  function age(seconds) {
    if (seconds === null || seconds === undefined) return "never";
    if (seconds < 60) return seconds.toFixed(1) + " s ago";
    if (seconds < 3600) return Math.floor(seconds / 60) + " min ago";
    return Math.floor(seconds / 3600) + " h ago";
  }

  function actionButton(hubId, action, label, description) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "button small secondary";
    button.textContent = label;
    button.dataset.hub = hubId;
    button.dataset.action = action;
    button.setAttribute("aria-label", description);
    button.disabled = busy;
    return button;
  }

  function process(hub) {
    const p = hub.process;
    const version = hub.version ? " · " + hub.version : "";
    if (!p) return "no process known" + version;
    return p.state + (p.pid ? " · pid " + p.pid : "") + (p.restarts ? " · " + p.restarts + " restart(s)" : "") + version;
  }

  function newRow(hubId) {
    const row = document.createElement("tr");
    row.dataset.hub = hubId;
    const th = document.createElement("th");
    th.scope = "row";
    th.textContent = "Hub " + hubId;
    const detail = document.createElement("span");
    detail.className = "process";
    th.appendChild(detail);
    row.appendChild(th);
    ["", "num", "num", "num", "num", "num", "num", "row-actions"].forEach(function (name) {
      const td = document.createElement("td");
      if (name) td.className = name;
      row.appendChild(td);
    });
    row.cells[1].appendChild(document.createElement("span"));
    return row;
  }

  // Rows are updated in place, so that a keyboard user's focus on a button survives each update.
  function updateRow(row, hub) {
    const detail = row.cells[0].querySelector(".process");
    if (detail && detail.textContent !== process(hub)) detail.textContent = process(hub);
    const badge = row.cells[1].querySelector("span") || row.cells[1].appendChild(document.createElement("span"));
    badge.className = "state state-" + hub.state;
    badge.textContent = STATE_WORDS[hub.state] || hub.state;
    const texts = [age(hub.heartbeat_age_s), String(hub.assigned), String(hub.active), String(hub.running),
                   String(hub.pending), bytes(hub.memory_bytes)];
    texts.forEach(function (text, index) {
      if (row.cells[index + 2].textContent !== text) row.cells[index + 2].textContent = text;
    });
    const actions = row.cells[8];
    const wanted = hub.draining ? "undrain" : "drain";
    const current = actions.querySelector("button[data-action='drain'], button[data-action='undrain']");
    if (!current || current.dataset.action !== wanted) {
      const replacement = hub.draining
        ? actionButton(hub.id, "undrain", "Undrain", "Undrain hub " + hub.id + ": take new members again")
        : actionButton(hub.id, "drain", "Drain", "Drain hub " + hub.id + ": no new members");
      const hadFocus = current && document.activeElement === current;
      if (current) current.replaceWith(replacement); else actions.prepend(replacement);
      if (hadFocus) replacement.focus();
    }
    if (!actions.querySelector("button[data-action='restart']")) {
      actions.appendChild(actionButton(hub.id, "restart", "Restart", "Restart hub " + hub.id));
    }
    actions.querySelectorAll("button").forEach(function (button) { button.disabled = busy; });
  }

  function renderHubs(data) {
    const seen = {};
    data.hubs.forEach(function (hub) {
      seen[hub.id] = true;
      let row = Array.prototype.find.call(tbody.rows, function (r) { return r.dataset.hub === hub.id; });
      if (!row || row.cells.length !== 9 || !row.cells[0].querySelector(".process")) {
        const fresh = newRow(hub.id);
        if (row) row.replaceWith(fresh); else tbody.appendChild(fresh);
        row = fresh;
      }
      updateRow(row, hub);
    });
    Array.prototype.slice.call(tbody.rows).forEach(function (row) {
      if (!seen[row.dataset.hub || ""]) row.remove();
    });
    const t = data.totals;
    totals.textContent = data.hubs.length + " hub(s) · " + t.members + " members, " + t.active + " active · " +
      t.running + " servers running, " + t.pending + " starting · " + bytes(t.memory_bytes) + " in use";
  }

  async function refresh() {
    try {
      const data = await call("GET", "/hubs");
      renderHubs(data);
      if (!busy && Date.now() > holdUntil) say("Live · updated " + new Date().toLocaleTimeString(), false);
    } catch (error) {
      say("Could not read the hubs: " + error.message + " Trying again.", true);
    }
  }

  tbody.addEventListener("click", async function (event) {
    const button = event.target.closest("button[data-action]");
    if (!button || busy) return;
    const hub = button.dataset.hub, action = button.dataset.action;
    if (action === "restart" && !window.confirm("Restart hub " + hub + "? Its members' servers keep running.")) {
      return;
    }
    busy = true;
    tbody.querySelectorAll("button").forEach(function (b) { b.disabled = true; });
    say((action === "restart" ? "Restarting" : action === "drain" ? "Draining" : "Undraining") + " hub " + hub + " …");
    try {
      await call("POST", "/hubs/" + encodeURIComponent(hub) + "/" + action);
      say("Hub " + hub + ": " + (action === "restart" ? "restarted; it registers again in a few seconds."
        : action === "drain" ? "draining: no new members." : "takes new members again."), false);
    } catch (error) {
      say("Hub " + hub + ": " + error.message, true);
    } finally {
      holdUntil = Date.now() + 10000;
      busy = false;
      refresh();
    }
  });

  // ----- the chart -------------------------------------------------------------------------------

  function el(name, attributes, text) {
    const node = document.createElementNS(SVG, name);
    Object.keys(attributes).forEach(function (key) { node.setAttribute(key, attributes[key]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function niceMax(value) {
    if (value <= 4) return 4;
    const magnitude = Math.pow(10, Math.floor(Math.log10(value)));
    const steps = [1, 2, 2.5, 5, 10];
    for (let i = 0; i < steps.length; i += 1) {
      if (steps[i] * magnitude >= value) return steps[i] * magnitude;
    }
    return 10 * magnitude;
  }

  function timeLabel(seconds, week) {
    const date = new Date(seconds * 1000);
    if (week) return date.toLocaleDateString(undefined, {weekday: "short", day: "numeric"});
    return date.toLocaleTimeString(undefined, {hour: "2-digit", minute: "2-digit"});
  }

  function path(xs, ys, bucket) {
    let d = "";
    for (let i = 0; i < xs.length; i += 1) {
      const gap = i === 0 || xs[i].t - xs[i - 1].t > 1.5 * bucket;
      d += (gap ? "M" : "L") + xs[i].x.toFixed(1) + "," + ys[i].toFixed(1);
    }
    return d;
  }

  function drawChart(history) {
    const width = 860, height = 260, left = 44, right = 12, top = 12, bottom = 28;
    const plotW = width - left - right, plotH = height - top - bottom;
    const span = history.until - history.since;
    let peak = 0;
    history.hubs.forEach(function (s) {
      s.running.forEach(function (v) { peak = Math.max(peak, v || 0); });
      s.active.forEach(function (v) { peak = Math.max(peak, v || 0); });
    });
    const yMax = niceMax(peak);
    const x = function (t) { return left + ((t - history.since) / span) * plotW; };
    const y = function (v) { return top + plotH - ((v || 0) / yMax) * plotH; };
    const svg = el("svg", {viewBox: "0 0 " + width + " " + height, class: "chart", role: "img",
                           "aria-labelledby": "hubs-chart-title hubs-chart-desc"});
    svg.appendChild(el("title", {id: "hubs-chart-title"}, "Servers running and members active per hub, last " +
      (history.window === "7d" ? "7 days" : "24 hours")));
    const latest = history.hubs.map(function (s) {
      const n = s.at.length - 1;
      return "hub " + s.hub + ": " + (n >= 0 ? s.running[n] + " running, " + s.active[n] + " active" : "no samples");
    }).join("; ");
    svg.appendChild(el("desc", {id: "hubs-chart-desc"}, "Peak per " + Math.round(history.bucket_s / 60) +
      " min. Latest: " + (latest || "no samples yet") + "."));
    for (let i = 0; i <= 4; i += 1) {
      const v = (yMax / 4) * i, yy = y(v);
      svg.appendChild(el("line", {x1: left, x2: width - right, y1: yy, y2: yy, class: "grid"}));
      svg.appendChild(el("text", {x: left - 6, y: yy + 4, class: "axis", "text-anchor": "end"}, String(Math.round(v))));
    }
    const week = history.window === "7d";
    const step = week ? 86400 : 4 * 3600;
    for (let t = Math.ceil(history.since / step) * step; t <= history.until; t += step) {
      svg.appendChild(el("line", {x1: x(t), x2: x(t), y1: top, y2: top + plotH, class: "grid"}));
      svg.appendChild(el("text", {x: x(t), y: height - 8, class: "axis", "text-anchor": "middle"}, timeLabel(t, week)));
    }
    legend.replaceChildren();
    history.hubs.forEach(function (s, index) {
      const color = COLORS[index % COLORS.length];
      const points = s.at.map(function (t) { return {t: t, x: x(t)}; });
      const running = el("path", {d: path(points, s.running.map(y), history.bucket_s), class: "series",
                                  stroke: color, "data-hub": s.hub, "data-series": "running"});
      const active = el("path", {d: path(points, s.active.map(y), history.bucket_s), class: "series dashed",
                                 stroke: color, "data-hub": s.hub, "data-series": "active"});
      svg.appendChild(running);
      svg.appendChild(active);
      if (points.length === 1) {  // one sample: a dot, since a line needs two
        svg.appendChild(el("circle", {cx: points[0].x, cy: y(s.running[0]), r: 3, fill: color}));
      }
      const item = document.createElement("li");
      const swatch = document.createElement("span");
      swatch.className = "swatch swatch-" + (index % COLORS.length);
      item.appendChild(swatch);
      item.appendChild(document.createTextNode("Hub " + s.hub + " — solid: servers running, dashed: members active"));
      legend.appendChild(item);
    });
    chart.replaceChildren(svg);
    chartNote.textContent = history.hubs.length ? "Peak per " + Math.round(history.bucket_s / 60) +
      " min, from samples the portal takes." : "No samples yet: the portal samples the hubs every interval.";
  }

  async function refreshHistory() {
    try {
      drawChart(await call("GET", "/hubs/history?window=" + encodeURIComponent(windowName)));
    } catch (error) {
      chartNote.textContent = "Could not read the hubs' history: " + error.message;
    }
  }

  document.querySelectorAll("button[data-window]").forEach(function (button) {
    button.addEventListener("click", function () {
      windowName = button.dataset.window;
      document.querySelectorAll("button[data-window]").forEach(function (b) {
        b.setAttribute("aria-pressed", String(b === button));
      });
      refreshHistory();
    });
  });

  refresh();
  refreshHistory();
  setInterval(refresh, POLL_MS);
  setInterval(refreshHistory, HISTORY_MS);
})();
