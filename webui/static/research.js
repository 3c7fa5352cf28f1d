// The Research page: ask discovery where this member's JupyterLab is, frame it, and keep asking; when
// their hub dies, discovery places them on another and the frame moves there.
(function () {
  const bar = document.getElementById("research-bar");
  const dot = document.getElementById("research-dot");
  const message = document.getElementById("research-message");
  const frame = document.getElementById("lab");
  const hubOrigin = bar.dataset.hubOrigin;
  const openPath = bar.dataset.open;
  let currentHub = null;
  let loaded = false;  // the frame has shown something from the current hub (the spawn page, then JupyterLab)
  let movedFrom = null;  // the hub this member was moved away from, said until they leave the page
  let signingOut = false;  // JupyterLab's Log Out: the page is about to leave

  function say(text, state) {
    message.textContent = text;
    dot.className = "dot " + state;
  }

  function settled() {
    say("JupyterLab on hub " + currentHub + (movedFrom === null ? "" : " (moved here from hub " + movedFrom +
        ", which stopped answering; everything you saved is here)"), movedFrom === null ? "ok" : "warn");
  }

  function labUrl(placement) {
    const target = openPath ? "lab/tree/" + openPath.split("/").map(encodeURIComponent).join("/") : "lab";
    return hubOrigin + placement.path + "hub/user-redirect/" + target;
  }

  async function ask() {
    let placement;
    try {
      const response = await fetch(bar.dataset.me, { credentials: "same-origin", cache: "no-store" });
      if (response.status === 401) { window.location.reload(); return; }
      const body = await response.json();
      if (!response.ok) { say(body.error || "Discovery did not answer; trying again…", "bad"); return; }
      placement = body;
    } catch (error) {
      say("The portal is not answering; trying again…", "bad");
      return;
    }
    if (placement.hub === currentHub) {
      if (placement.state === "suspect") say("Your hub (" + currentHub + ") is not answering; waiting…", "pending");
      else if (loaded) settled();
      return;
    }
    const moved = currentHub !== null;
    if (moved) movedFrom = currentHub;
    currentHub = placement.hub;
    loaded = false;
    frame.src = labUrl(placement);
    say(moved ? "Your hub stopped; you are now on hub " + currentHub + ". Your saved notebooks are all here."
              : "Starting your JupyterLab on hub " + currentHub + "…", moved ? "warn" : "pending");
  }

  // JupyterLab's Log Out ends on the portal's signed-out page in the frame, which asks for this: sign out of
  // the portal too, with the header's form (it carries the CSRF token)
  window.addEventListener("message", function (event) {
    if (event.origin !== window.location.origin || event.source !== frame.contentWindow) return;
    if (!event.data || event.data.type !== "appliance:signed-out-of-jupyterlab") return;
    signingOut = true;
    say("Signing you out…", "pending");
    const form = document.getElementById("sign-out-form");
    if (form) form.submit();
    else window.location.assign("/");
  });

  frame.addEventListener("load", function () {
    if (currentHub === null || frame.src === "about:blank" || signingOut) return;
    loaded = true;
    settled();
  });
  ask();
  setInterval(ask, 2000);
})();
