// The Research page: ask discovery which hub serves this member, start their server there through the
// portal (which asks the hub with its own credentials), show JupyterHub's own progress events while it
// starts, and only then open JupyterLab in the frame. The bar shows the server's state and memory, with
// Start, Stop and Restart. When their hub dies, discovery places them on another and all of it moves there.
(function () {
  const bar = document.getElementById("research-bar");
  const dot = document.getElementById("research-dot");
  const message = document.getElementById("research-message");
  const frame = document.getElementById("lab");
  const panel = document.getElementById("spawn-progress");
  const heading = document.getElementById("spawn-title");
  const meter = document.getElementById("spawn-bar");
  const log = document.getElementById("spawn-log");
  const memory = document.getElementById("server-memory");
  const startButton = document.getElementById("server-start");
  const profileChoice = document.getElementById("server-profile");
  const PROFILE_KEY = "appliance-server-profile";  // the member's last choice, on this browser
  let savedProfile = null;
  try { savedProfile = window.localStorage.getItem(PROFILE_KEY); } catch (error) { savedProfile = null; }
  if (profileChoice && savedProfile && [...profileChoice.options].some(function (o) { return o.value === savedProfile; })) {
    profileChoice.value = savedProfile;
  } else {
    savedProfile = null;
  }
  if (profileChoice) {
    profileChoice.addEventListener("change", function () {
      try { window.localStorage.setItem(PROFILE_KEY, profileChoice.value); } catch (error) { /* private mode */ }
      savedProfile = profileChoice.value;
    });
  }
  const stopButton = document.getElementById("server-stop");
  const restartButton = document.getElementById("server-restart");
  const hubOrigin = bar.dataset.hubOrigin;
  const labPath = bar.dataset.lab;  // the portal sends the frame on to JupyterLab on the member's hub
  const STOP_TIMEOUT_MS = 90000;
  const stateOnly = bar.dataset.server + "?memory=0";  // what runs, without measuring its memory
  const FRAME_WAIT_MS = 15000;  // the frame is shown even when its load event never comes
  const FACTS_AFTER_MS = 2000;  // its memory once JupyterLab has loaded: measuring it competes with the load
  let currentHub = null;
  let hubPath = null;  // the hub's path on the hub origin, /hubs/<id>/
  let phase = "finding";  // signing-in, starting, opening, lab, stopping, stopped, failed
  let movedFrom = null;  // the hub this member was moved away from, said until they leave the page
  let signingOut = false;  // JupyterLab's Log Out: the page is about to leave
  let events = null;  // the progress stream
  let frameBusy = false;  // the frame was sent somewhere and its load event is still to come (or may be)
  let generation = 0;  // each start, stop or move begins a new one: answers to an older one are dropped

  function say(text, state) {
    message.textContent = text;
    dot.className = "dot " + state;
  }

  function offer(...shown) {
    for (const button of [startButton, stopButton, restartButton]) button.hidden = !shown.includes(button);
  }

  function showPanel(title) {
    heading.textContent = title;
    panel.hidden = false;
    frame.classList.add("loading");
    memory.textContent = "";
  }

  function note(text) {
    const item = document.createElement("li");
    item.textContent = text;
    log.appendChild(item);
    log.scrollTop = log.scrollHeight;
  }

  function resetProgress(title) {
    showPanel(title);
    meter.value = 0;
    meter.hidden = false;
    log.replaceChildren();
  }

  function closeEvents() {
    if (events !== null) events.close();
    events = null;
  }

  async function call(url, method, sent) {
    const headers = method === "POST" ? { "X-CSRF-Token": bar.dataset.csrf } : {};
    if (sent !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(url, { method: method || "GET", headers: headers, credentials: "same-origin",
                                         cache: "no-store", body: sent === undefined ? undefined : JSON.stringify(sent) });
    if (response.status === 401) {  // signed out elsewhere: the reload asks to sign in (not while signing out here)
      if (!signingOut) window.location.reload();
      throw new Error("signed out");
    }
    let body = {};
    try { body = await response.json(); } catch (error) { body = { error: "The portal answered " + response.status }; }
    return { ok: response.ok, body: body };
  }

  function go(url) {
    frame.src = url;
    frameBusy = url !== "about:blank";
  }

  function settled() {
    say("JupyterLab on hub " + currentHub + (movedFrom === null ? "" : " (moved here from hub " + movedFrom +
        ", which stopped answering; everything you saved is here)"), movedFrom === null ? "ok" : "warn");
  }

  function failed(text) {
    closeEvents();
    phase = "failed";
    showPanel("Your JupyterLab did not start");
    note(text);
    say(text, "bad");
    offer(startButton);
  }

  // more than one server profile and none chosen on this browser yet: the member chooses before it starts
  function choose() {
    phase = "stopped";
    resetProgress("Choose your server");
    meter.hidden = true;  // nothing is under way yet
    note("Your groups may use more than one size of server. Choose one above, then start it.");
    say("Choose your server, then start it", "warn");
    offer(startButton);
    profileChoice.focus();
  }

  function stopped(why) {
    phase = "stopped";
    go("about:blank");
    resetProgress("Your JupyterLab is stopped");
    note(why + " Your files are kept; start it again when you need it.");
    say("Your server on hub " + currentHub + " is stopped", "warn");
    offer(startButton);
  }

  // What the member's server does now decides what the page does. `early`: the frame already left for
  // JupyterLab, before the server's state was known (the page or placed() sent it): when it runs (a warm
  // visit) JupyterLab is on its way; when it does not, the frame is called back and the page goes on below.
  async function begin(early) {
    const mine = ++generation;
    closeEvents();
    let answer;
    try { answer = await call(stateOnly); } catch (error) { answer = { ok: false, body: {} }; }
    if (mine !== generation) return;
    if (!answer.ok) {
      say(answer.body.error || "The portal is not answering; trying again…", "bad");
      setTimeout(function () { if (mine === generation) begin(early); }, 3000);
      return;
    }
    const state = answer.body.state;
    // the frame's load event may have come before this script ran: a document it cannot read is JupyterLab's
    if (state === "running" && early) { opening(frameBusy && frame.contentDocument !== null); return; }
    // not running: stop the early frame before it meets the server starting (JupyterHub's spawn page)
    if (early) go("about:blank");
    if (state === "running") openLab(mine);
    else if (state === "starting") follow(mine);
    else if (state === "stopping") stop(true);
    else if (profileChoice && !savedProfile) choose();
    else start();
  }

  async function start() {
    const mine = ++generation;
    closeEvents();
    phase = "starting";
    resetProgress("Starting your JupyterLab");
    say("Starting your server on hub " + currentHub + "…", "pending");
    offer();
    let answer;
    // the server profile chosen in the bar (offered only when the member's groups allow more than the standard one)
    const body = profileChoice ? { profile: profileChoice.value } : {};
    if (profileChoice) {
      savedProfile = profileChoice.value;
      try { window.localStorage.setItem(PROFILE_KEY, savedProfile); } catch (error) { /* private mode */ }
    }
    try { answer = await call(bar.dataset.start, "POST", body); } catch (error) { answer = { ok: false, body: {} }; }
    if (mine !== generation) return;
    if (!answer.ok) { failed(answer.body.error || "The portal is not answering."); return; }
    if (answer.body.sign_in) {  // the hub has never seen this member: sign in to it (OAuth, in the frame)
      phase = "signing-in";
      note("Signing you in to hub " + currentHub + "…");
      go(hubOrigin + hubPath + "hub/home");
      return;
    }
    follow(mine);
  }

  // JupyterHub's own progress events, relayed by the portal, until the server is ready
  function follow(mine) {
    phase = "starting";
    showPanel("Starting your JupyterLab");
    say("Starting your server on hub " + currentHub + "…", "pending");
    offer();
    let waited = 0;
    events = new EventSource(bar.dataset.progress);
    events.onmessage = function (event) {
      if (mine !== generation) { closeEvents(); return; }
      const data = JSON.parse(event.data);
      if (data.waiting) {  // nothing is starting yet: after 10 s of that, look at the server again
        if (++waited === 20) begin();
        return;
      }
      if (typeof data.progress === "number") meter.value = data.progress;
      if (data.failed) { failed(data.message || "Your server did not start."); return; }
      if (data.ready) { closeEvents(); openLab(mine); return; }
      if (data.message) note(data.message);
    };
    events.onerror = function () {
      if (events !== null && events.readyState === EventSource.CLOSED && mine === generation) {
        closeEvents();  // refused (signed out, no hub): look again shortly
        setTimeout(function () { if (mine === generation) begin(); }, 2000);
      }
    };
  }

  // the server runs: JupyterLab shows when the frame has loaded it (or at once, when it already has)
  function opening(waitForFrame) {
    phase = "opening";
    meter.value = 100;
    note("Your server is ready; opening JupyterLab…");
    say("Opening JupyterLab on hub " + currentHub + "…", "pending");
    if (!waitForFrame) showLab();
    else setTimeout(function () { if (phase === "opening") showLab(); }, FRAME_WAIT_MS);  // its own page says why
  }

  function openLab(mine) {
    if (mine !== generation) return;
    go(labPath);
    opening(true);
  }

  function showLab() {
    phase = "lab";
    panel.hidden = true;
    frame.classList.remove("loading");
    settled();
    offer(stopButton, restartButton);
    setTimeout(facts, FACTS_AFTER_MS);
  }

  async function stop(thenStart) {
    const mine = ++generation;
    closeEvents();
    phase = "stopping";
    go("about:blank");
    resetProgress(thenStart ? "Restarting your JupyterLab" : "Stopping your JupyterLab");
    say("Stopping your server on hub " + currentHub + "…", "pending");
    offer();
    let answer;
    try { answer = await call(bar.dataset.stop, "POST"); } catch (error) { answer = { ok: false, body: {} }; }
    if (mine !== generation) return;
    if (!answer.ok) { failed(answer.body.error || "The portal is not answering."); return; }
    const deadline = Date.now() + STOP_TIMEOUT_MS;
    while (Date.now() < deadline) {
      const state = await call(stateOnly).catch(function () { return { ok: false, body: {} }; });
      if (mine !== generation) return;
      if (state.ok && state.body.state === "stopped") {
        if (thenStart) start();
        else stopped("You stopped your server.");
        return;
      }
      await new Promise(function (resolve) { setTimeout(resolve, 500); });
    }
    failed("Your server did not stop within " + STOP_TIMEOUT_MS / 1000 + " s; try again, or ask your administrator.");
  }

  function size(bytes) {
    return bytes >= 1 << 30 ? (bytes / (1 << 30)).toFixed(1) + " GB" : Math.round(bytes / (1 << 20)) + " MB";
  }

  // while JupyterLab is open: its memory, and whether it still runs (an idle culler or an admin may stop it)
  async function facts() {
    if (phase !== "lab") return;
    const mine = generation;
    const answer = await call(bar.dataset.server).catch(function () { return { ok: false, body: {} }; });
    if (mine !== generation || phase !== "lab" || !answer.ok) return;
    if (answer.body.state === "stopped") { stopped("Your server stopped: it sat idle for long, an administrator stopped it, or its job on the lab's cluster ended (cancelled, or out of time)."); return; }
    const used = answer.body.memory_bytes, limit = answer.body.memory_limit_bytes;
    memory.textContent = typeof used === "number" ? "Memory " + size(used) + (limit ? " of " + size(limit) : "") : "";
  }

  async function ask() {
    let answer;
    try {
      answer = await call(bar.dataset.me);
    } catch (error) {
      say("The portal is not answering; trying again…", "bad");
      return;
    }
    if (!answer.ok) say(answer.body.error || "Discovery did not answer; trying again…", "bad");
    else placed(answer.body);
  }

  function placed(placement) {
    if (placement.hub === currentHub) {
      if (placement.state === "suspect") say("Your hub (" + currentHub + ") is not answering; waiting…", "pending");
      else if (phase === "lab") settled();
      return;
    }
    const moved = currentHub !== null;
    if (moved) movedFrom = currentHub;
    currentHub = placement.hub;
    hubPath = placement.path;
    const early = !moved && placement.state !== "suspect";
    if (!(early && frameBusy)) go(early ? labPath : "about:blank");  // the page may have sent it already
    begin(early);
    if (moved) say("Your hub stopped; you are now on hub " + currentHub + ". Your saved notebooks are all here.", "warn");
    else say("Starting your JupyterLab on hub " + currentHub + "…", "pending");
  }

  startButton.addEventListener("click", function () { start(); });
  stopButton.addEventListener("click", function () { stop(false); });
  restartButton.addEventListener("click", function () { stop(true); });

  // JupyterLab's Log Out ends on the portal's signed-out page in the frame, which asks for this: sign out of
  // the portal too, with the header's form (it carries the CSRF token)
  window.addEventListener("message", function (event) {
    if (event.origin !== window.location.origin || event.source !== frame.contentWindow) return;
    if (!event.data || event.data.type !== "appliance:signed-out-of-jupyterlab") return;
    signingOut = true;
    closeEvents();
    say("Signing you out…", "pending");
    const form = document.getElementById("sign-out-form");
    if (form) form.submit();
    else window.location.assign("/");
  });

  frame.addEventListener("load", function () {
    frameBusy = false;
    if (currentHub === null || frame.src === "about:blank" || signingOut) return;
    if (phase === "signing-in") start();  // signed in to the hub: now it knows the member
    else if (phase === "opening") showLab();
  });
  frameBusy = frame.getAttribute("src") !== "about:blank";  // the page knew the member's hub and sent the frame
  if (bar.dataset.placement) placed(JSON.parse(bar.dataset.placement));
  else ask();
  setInterval(ask, 2000);
  setInterval(facts, 5000);
})();
