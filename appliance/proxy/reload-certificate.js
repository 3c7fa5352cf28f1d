// Loaded into configurable-http-proxy with NODE_OPTIONS=--require (child.py) when it serves HTTPS: on SIGHUP
// it reads its --ssl-cert and --ssl-key again and serves them to new connections. A renewed certificate then
// needs no restart, which would drop every route and every member's open connection for a second or two
// (certbot's deploy hook runs `appliance reload proxy`, which sends the signal).
"use strict";
const fs = require("fs");
const https = require("https");

const served = []; // each HTTPS server the proxy makes, with the options it was made with
const createServer = https.createServer;
https.createServer = function (options, ...rest) {
  const server = createServer.call(this, options, ...rest);
  if (options && options.cert) served.push({ server, options });
  return server;
};

function argument(name) {
  const at = process.argv.indexOf(name);
  return at > 0 ? process.argv[at + 1] : undefined;
}

process.on("SIGHUP", () => {
  const certFile = argument("--ssl-cert");
  const keyFile = argument("--ssl-key");
  try {
    const cert = fs.readFileSync(certFile);
    const key = fs.readFileSync(keyFile);
    for (const { server, options } of served) server.setSecureContext({ ...options, cert, key });
    console.log(`reloaded the certificate ${certFile} and its key ${keyFile}`);
  } catch (error) {
    console.error(`ERROR: the certificate was not reloaded, the previous one is still served: ${error.message}`);
  }
});
