// The page a hub's logout ends on (JupyterLab's File > Log Out). Inside the Research page's frame it asks
// the Research page, of this same origin, to sign out of the portal with its own form; opened on its own,
// the page shows a Sign out button instead.
(function () {
  if (window.parent === window) return;
  window.parent.postMessage({ type: "appliance:signed-out-of-jupyterlab" }, window.location.origin);
})();
