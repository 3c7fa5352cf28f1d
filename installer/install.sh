#!/usr/bin/env bash
# Install the appliance and start it (Debian 12, Ubuntu 22.04+; run as root): from this checkout, or a wheel.
#
#   installer/install.sh                 install into /opt/appliance and start appliance.service (enabled at boot;
#                                        `appliance up --detach` where systemd is not running)
#   installer/install.sh --dev --venv D  prepare a development environment in D (editable, test extras), no start
#   installer/install.sh --uninstall     remove the service and the program; keep the data (/var/lib/appliance)
#   installer/install.sh --purge         remove the data and the configuration too
#   --from PATH_OR_WHEEL                 what to install: a checkout, a wheel file or a wheel's https URL
#                                        (needed when piped: curl -fsSL URL/install.sh | sudo bash -s -- --from …)
#   --domain NAME --tls-cert F --tls-key F
#                                        the lab's own addresses: the portal on https://NAME and the hubs on
#                                        https://hub.NAME (--hub-host H for another name), both on port 443, plain
#                                        HTTP on 80 redirected, each member on https://<name>.hub.NAME; the
#                                        certificate (PEM chain, e.g. certbot's fullchain.pem with privkey.pem)
#                                        must name NAME, hub.NAME and *.hub.NAME (the installer says which it lacks)
#   --domain NAME --certbot PLUGIN       instead of --tls-cert/--tls-key: Debian's certbot gets that certificate by
#                                        the DNS challenge (the wildcard needs it) with its plugin PLUGIN (package
#                                        python3-certbot-dns-PLUGIN: rfc2136, cloudflare, route53, …) and renews it;
#                                        a renewal reloads the proxy's certificate, restarting nothing. Options:
#     --certbot-credentials F            the plugin's credentials (default /etc/appliance/certbot-PLUGIN.ini)
#     --certbot-email ADDRESS            for the CA's expiry notices
#     --certbot-server URL               another ACME CA than Let's Encrypt (its directory URL)
#     --certbot-wait SECONDS             how long the DNS records take to spread (the plugin's default otherwise)
#   --with-downtime                      upgrade even when a database migration needs every component restarted at
#                                        once (without it, such an upgrade is refused and nothing changes)
#   --no-start                           install and enable the service without starting it (a hub node: then
#                                        `appliance join …` and `systemctl start appliance`)
#   --skip-checks                        install on a system the checks refuse (unsupported OS, small machine)
#
# Every step checks before it acts, so a second run is quick and changes nothing that is already right.
# Detail goes to $LOG; a failed command's output is shown on screen.
set -euo pipefail

# From a checkout, the checkout; piped into bash (curl … | sudo bash -s -- --from WHEEL), nothing.
REPO=""
if [ -f "${BASH_SOURCE[0]:-}" ]; then REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd); fi
FROM=""
PREFIX=/opt/appliance
VENV=""
DEV=0
START=1
UNINSTALL=0
PURGE=0
if [ "$(id -u)" -eq 0 ]; then LOG=${APPLIANCE_INSTALL_LOG:-/var/log/appliance-install.log}
else LOG=${APPLIANCE_INSTALL_LOG:-/tmp/appliance-install.log}; fi
CHECK=1
DOMAIN=""
HUB_HOST=""
TLS_CERT=""
TLS_KEY=""
CERTBOT=""
CERTBOT_CREDENTIALS=""
CERTBOT_EMAIL=""
CERTBOT_SERVER=""
CERTBOT_WAIT=""
WITH_DOWNTIME=0

usage() { sed -n '2,29p' "${BASH_SOURCE[0]:-/dev/null}" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --dev) DEV=1; START=0 ;;
    --venv) VENV=$2; shift ;;
    --from) FROM=$2; shift ;;
    --no-start) START=0 ;;
    --uninstall) UNINSTALL=1 ;;
    --purge) UNINSTALL=1; PURGE=1 ;;
    --skip-checks) CHECK=0 ;;
    --domain) DOMAIN=$2; shift ;;
    --hub-host) HUB_HOST=$2; shift ;;
    --tls-cert) TLS_CERT=$2; shift ;;
    --tls-key) TLS_KEY=$2; shift ;;
    --certbot) CERTBOT=$2; shift ;;
    --certbot-credentials) CERTBOT_CREDENTIALS=$2; shift ;;
    --certbot-email) CERTBOT_EMAIL=$2; shift ;;
    --certbot-server) CERTBOT_SERVER=$2; shift ;;
    --certbot-wait) CERTBOT_WAIT=$2; shift ;;
    --with-downtime) WITH_DOWNTIME=1 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "install.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
  shift
done
FROM=${FROM:-$REPO}
usage_error() { echo "install.sh: $*" >&2; exit 2; }
[ -n "$FROM" ] || usage_error "say what to install with --from PATH_OR_WHEEL (a checkout, a wheel or its URL)"
LIVE_CERTIFICATE=/etc/letsencrypt/live/appliance  # certbot's lineage for --certbot (--cert-name appliance)
HOST_NAME='^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)+$'
if [ -n "$DOMAIN" ]; then
  HUB_HOST=${HUB_HOST:-hub.$DOMAIN}
  [[ $DOMAIN =~ $HOST_NAME ]] || usage_error "--domain $DOMAIN is not a host name like lab.example.org"
  [[ $HUB_HOST =~ $HOST_NAME ]] || usage_error "--hub-host $HUB_HOST is not a host name like hub.lab.example.org"
  [ "$HUB_HOST" != "$DOMAIN" ] || usage_error "--hub-host must differ from --domain: members' servers get a host name of their own"
  if [ -n "$CERTBOT" ]; then
    [ -z "$TLS_CERT$TLS_KEY" ] || usage_error "--certbot gets the certificate: leave out --tls-cert and --tls-key"
    [[ $CERTBOT =~ ^[a-z0-9][a-z0-9-]*$ ]] || usage_error "--certbot $CERTBOT: give a DNS plugin's name, like rfc2136 or cloudflare"
    [[ -z $CERTBOT_WAIT || $CERTBOT_WAIT =~ ^[0-9]+$ ]] || usage_error "--certbot-wait $CERTBOT_WAIT: give whole seconds"
    CERTBOT_CREDENTIALS=${CERTBOT_CREDENTIALS:-/etc/appliance/certbot-$CERTBOT.ini}
    TLS_CERT=$LIVE_CERTIFICATE/fullchain.pem; TLS_KEY=$LIVE_CERTIFICATE/privkey.pem
  else
    [ -n "$TLS_CERT" ] && [ -n "$TLS_KEY" ] \
      || usage_error "--domain needs --tls-cert and --tls-key (e.g. certbot's /etc/letsencrypt/live/$DOMAIN/fullchain.pem and privkey.pem), or --certbot PLUGIN to get them"
    for file in "$TLS_CERT" "$TLS_KEY"; do [ -r "$file" ] || usage_error "cannot read $file"; done
    TLS_CERT=$(realpath "$TLS_CERT"); TLS_KEY=$(realpath "$TLS_KEY")
  fi
elif [ -n "$HUB_HOST$TLS_CERT$TLS_KEY$CERTBOT" ]; then
  usage_error "--hub-host, --tls-cert, --tls-key and --certbot go with --domain NAME"
fi
VENV=$(realpath -m "${VENV:-$PREFIX/venv}")  # absolute: node resolves a relative require() as a package
SYSTEM_CONFIG=/etc/appliance/appliance.toml
UNIT=/etc/systemd/system/appliance.service
DONE=$PREFIX/.install-complete  # written last: a run that died half-way is finished by the next one
FIRST_INSTALL=1
[ ! -f "$DONE" ] || FIRST_INSTALL=0
UPGRADED=0
CONFIG_CHANGED=0
(umask 077 && : > "$LOG") && chmod 600 "$LOG"  # commands' output: the operator's to read

say() { printf '%s\n' "$*"; }
step() { printf '      %s\n' "$*"; }
PHASE=0
PHASES=6
phase() { PHASE=$((PHASE + 1)); printf '[%d/%d] %s\n' "$PHASE" "$PHASES" "$*"; }
fail() { printf 'install.sh: %s\n' "$*" >&2; exit 1; }

# Run a command with its output in the log; on failure show that output and stop.
run() {
  echo "+ $*" >> "$LOG"
  local out
  if ! out=$("$@" 2>&1); then
    printf '%s\n' "$out" >> "$LOG"
    printf '\ninstall.sh: this command failed: %s\n%s\n(the whole output is in %s)\n' "$*" \
      "$(printf '%s\n' "$out" | tail -n 25)" "$LOG" >&2
    exit 1
  fi
  printf '%s\n' "$out" >> "$LOG"
}

APT_UPDATED=0
apt_update() {  # once a run
  [ $APT_UPDATED -eq 0 ] || return 0
  step "updating the package lists"
  run env DEBIAN_FRONTEND=noninteractive apt-get update -q
  APT_UPDATED=1
}

apt_install() {
  [ "$(id -u)" -eq 0 ] || fail "missing packages ($*): run as root, or install them with apt-get install $*"
  apt_update
  step "installing $*"
  run env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@"
}

ensure_postgresql() {
  if compgen -G "/usr/lib/postgresql/*/bin/postgres" > /dev/null; then return; fi
  # The appliance runs its own cluster; keep the package from creating (and starting) a second one.
  if [ ! -e /etc/postgresql-common/createcluster.conf ]; then
    apt_install postgresql-common
    sed -i 's/^#* *create_main_cluster *=.*/create_main_cluster = false/' /etc/postgresql-common/createcluster.conf
  fi
  apt_install postgresql
}

ensure_node() {
  local missing=()
  command -v node > /dev/null || missing+=(nodejs)
  command -v npm > /dev/null || missing+=(npm)
  [ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"
}

ensure_python() {
  command -v /usr/bin/python3 > /dev/null || apt_install python3
  /usr/bin/python3 -c 'import sys; sys.exit(sys.version_info < (3, 10))' \
    || fail "Python 3.10 or newer is needed; /usr/bin/python3 is $(/usr/bin/python3 --version)"
  /usr/bin/python3 -c 'import ensurepip, venv' 2> /dev/null || apt_install python3-venv
}

ensure_venv() {
  if [ ! -x "$VENV/bin/python" ]; then
    step "creating the virtual environment $VENV"
    run /usr/bin/python3 -m venv "$VENV"
    chmod 755 "$VENV"
  fi
  local spec stamp want source=$FROM
  if [[ "$FROM" == http://* || "$FROM" == https://* ]]; then
    source="$PREFIX/downloads/${FROM##*/}"
    step "downloading $FROM"
    command -v curl > /dev/null || apt_install curl ca-certificates
    mkdir -p "$PREFIX/downloads"
    run curl -fsSL -o "$source" "$FROM"
  fi
  [ -e "$source" ] || fail "--from $FROM: no such file or folder"
  if [ $DEV -eq 1 ]; then spec=(-e "$source[test]"); else spec=("$source"); fi
  # what a non-editable install copies (the wheel, or the checkout's sources): reinstall when it changed
  if [ -f "$source" ]; then want="$DEV $(sha256sum < "$source" | cut -c1-16)"
  else
    want="$DEV $(sha256sum < "$source/pyproject.toml" | cut -c1-16)"
    [ $DEV -eq 1 ] || want="$want $(cd "$source" && find appliance webui -type f ! -path '*/__pycache__/*' \
      ! -path '*/node_modules/*' ! -path 'webui/labextension/lib/*' ! -path 'webui/labextensions/*' \
      ! -path 'webui/gallery-assets/*' ! -name tsconfig.tsbuildinfo ! -name .built-sha256 -print0 \
      | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)"
  fi
  stamp="$VENV/.appliance-installed"
  if [ "$(cat "$stamp" 2> /dev/null)" != "$want" ]; then
    if [ -f "$stamp" ] && "$VENV/bin/appliance" status > /dev/null 2>&1; then
      # an upgrade under a running appliance: its environment is kept until the upgrade is under way, so that
      # one refused (a migration that needs downtime) puts back exactly what runs
      step "keeping the running version's environment until the upgrade is under way"
      rm -rf "$VENV.previous"
      run cp -a --reflink=auto "$VENV" "$VENV.previous"
    fi
    step "installing appliance and its Python packages into $VENV"
    run "$VENV/bin/pip" install -q --upgrade pip
    if [ -d "$source" ]; then
      # Build in the venv itself: pip's isolated build environment would install JupyterLab and its
      # dependencies a second time, only to build the gallery's extension (about 15 s)
      local requires=()
      mapfile -t requires < <(build_requirements "$source")
      [ ${#requires[@]} -gt 0 ] || fail "could not read the build requirements in $source/pyproject.toml"
      run "$VENV/bin/pip" install -q "${requires[@]}"
      spec=(--no-build-isolation "${spec[@]}")
    fi
    run "$VENV/bin/pip" install -q "${spec[@]}"
    echo "$want" > "$stamp"
    UPGRADED=1
  fi
}

# The checkout's build requirements (pyproject.toml), one per line.
build_requirements() {
  "$VENV/bin/python" - "$1/pyproject.toml" << 'PY'
import sys
try:
    import tomllib
except ImportError:  # Python 3.10 (Ubuntu 22.04): pip's own copy of the same parser
    from pip._vendor import tomli as tomllib
with open(sys.argv[1], "rb") as file:
    print("\n".join(tomllib.load(file)["build-system"]["requires"]))
PY
}

ensure_labextension() {
  # the checkout's JupyterLab gallery extension and render assets (a wheel's build does this for a wheel);
  # quick when its sources did not change since the last build
  step "building the gallery's JupyterLab extension (webui/labextension) if its sources changed"
  run "$VENV/bin/python" "$FROM/webui/labextension/build.py"
}

ensure_proxy() {
  # configurable-http-proxy 5 needs Node.js 20+; 4.6 runs on the Node.js 18 of Debian 12.
  local major version
  major=$(node -p 'process.versions.node.split(".")[0]')
  if [ "$major" -ge 20 ]; then version=5.3.0; else version=4.6.3; fi
  local installed="$VENV/node_modules/configurable-http-proxy/package.json"
  if [ ! -f "$installed" ] || [ "$(node -p "require('$installed').version")" != "$version" ]; then
    step "installing configurable-http-proxy $version (Node.js $major)"
    run npm install --no-audit --no-fund --prefix "$VENV" "configurable-http-proxy@$version"
  fi
}

ensure_command_link() {
  if [ "$(id -u)" -eq 0 ] && [ "$(readlink /usr/local/bin/appliance 2> /dev/null)" != "$VENV/bin/appliance" ]; then
    if [ -e /usr/local/bin/appliance ] && [ ! -L /usr/local/bin/appliance ]; then
      fail "/usr/local/bin/appliance exists and is not ours; move it away and run install.sh again"
    fi
    ln -sfn "$VENV/bin/appliance" /usr/local/bin/appliance
  fi
}

ensure_config() {
  # the appliance's alone (mode 0600): it can hold secrets, and members' servers run as other users
  if [ -f "$SYSTEM_CONFIG" ]; then
    step "keeping $SYSTEM_CONFIG"
    chmod go-rwx "$SYSTEM_CONFIG"
  else
    step "writing $SYSTEM_CONFIG (every setting at its default, commented out)"
    mkdir -p "$(dirname "$SYSTEM_CONFIG")"
    (umask 077 && "$VENV/bin/appliance" config show --defaults > "$SYSTEM_CONFIG.new")
    mv "$SYSTEM_CONFIG.new" "$SYSTEM_CONFIG"
  fi
  [ -z "$CERTBOT" ] || ensure_certificate
  [ -z "$DOMAIN" ] || ensure_domain
}

# --certbot: the certificate for the portal, the hubs and every member's host, by the DNS challenge (the only
# one that gets a wildcard); certbot.timer renews it, and the deploy hook below hands it to the running proxy.
ensure_certificate() {
  local package="python3-certbot-dns-$CERTBOT" args=() hook=/etc/letsencrypt/renewal-hooks/deploy/appliance
  if ! dpkg -s certbot "$package" > /dev/null 2>&1; then
    if ! apt-cache show "$package" > /dev/null 2>&1; then
      apt_update
      apt-cache show "$package" > /dev/null 2>&1 || fail "--certbot $CERTBOT: there is no package $package. \
This system's DNS plugins for certbot: $(apt-cache search --names-only '^python3-certbot-dns-' | sed 's/^python3-certbot-dns-\([^ ]*\).*/\1/' | tr '\n' ' ')"
    fi
    apt_install certbot "$package"
  fi
  [ -r "$CERTBOT_CREDENTIALS" ] || fail "--certbot $CERTBOT needs the plugin's credentials in $CERTBOT_CREDENTIALS \
(what to write there: https://certbot-dns-$CERTBOT.readthedocs.io), or give their file with --certbot-credentials"
  chmod go-rwx "$CERTBOT_CREDENTIALS"  # certbot refuses credentials others can read, and they are secrets
  args=(--authenticator "dns-$CERTBOT" "--dns-$CERTBOT-credentials" "$CERTBOT_CREDENTIALS")
  [ -z "$CERTBOT_WAIT" ] || args+=("--dns-$CERTBOT-propagation-seconds" "$CERTBOT_WAIT")
  [ -z "$CERTBOT_SERVER" ] || args+=(--server "$CERTBOT_SERVER")
  if [ -n "$CERTBOT_EMAIL" ]; then args+=(--email "$CERTBOT_EMAIL" --no-eff-email)
  else args+=(--register-unsafely-without-email); fi
  step "the certificate for $DOMAIN, $HUB_HOST and *.$HUB_HOST from certbot ($CERTBOT's DNS challenge)"
  # kept until it nears its end (certbot contacts nobody then); a changed name gets a new one
  run certbot certonly --non-interactive --agree-tos --keep-until-expiring --expand --cert-name appliance \
    "${args[@]}" -d "$DOMAIN" -d "$HUB_HOST" -d "*.$HUB_HOST"
  mkdir -p "$(dirname "$hook")"
  cat > "$hook.new" <<HOOK
#!/bin/sh
# install.sh's: a renewal of the appliance's certificate reaches its front proxy without a restart
[ "\$RENEWED_LINEAGE" = "$LIVE_CERTIFICATE" ] || exit 0
exec "$VENV/bin/appliance" reload proxy
HOOK
  chmod 755 "$hook.new" && mv "$hook.new" "$hook"
}

# --domain: the front proxy serves the portal, the hubs and every member's host on 443 (DESIGN.md, "Origins").
ensure_domain() {
  local before
  before=$(cat "$SYSTEM_CONFIG")
  run "$VENV/bin/appliance" --config "$SYSTEM_CONFIG" config set "portal.public_url=https://$DOMAIN" \
    "hubs.public_url=https://$HUB_HOST" proxy.host=0.0.0.0 proxy.port=443 proxy.http_redirect_port=80 \
    "proxy.tls_cert=$TLS_CERT" "proxy.tls_key=$TLS_KEY"
  if [ "$before" = "$(cat "$SYSTEM_CONFIG")" ]; then
    step "keeping https://$DOMAIN (portal) and https://$HUB_HOST (hubs)"
  else
    step "set the portal to https://$DOMAIN and the hubs to https://$HUB_HOST in $SYSTEM_CONFIG"
    CONFIG_CHANGED=1
  fi
}

# The unit, with this installation's paths.
service_unit() {
  cat <<UNIT
[Unit]
Description=appliance: notebooks for a lab (portal, hubs, PostgreSQL)
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
Environment=APPLIANCE_HOME=/var/lib/appliance
ExecStart=$VENV/bin/appliance up
# the supervisor stops its children on SIGTERM and exits with 143
SuccessExitStatus=143
Restart=on-failure
RestartSec=2
TimeoutStopSec=90
# what is left after the supervisor (members' servers, a stuck child) is killed with the unit
KillMode=mixed
LimitNOFILE=65536
# Hardening that leaves spawning alone: hubs start members' servers as other users (the local spawner
# runs useradd) or as transient units over D-Bus, so /etc, setuid and the system bus stay reachable.
PrivateTmp=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectClock=yes
ProtectHostname=yes
RestrictRealtime=yes
LockPersonality=yes

[Install]
WantedBy=multi-user.target
UNIT
}

ensure_service() {
  local unit
  unit=$(service_unit)
  if [ "$(cat "$UNIT" 2> /dev/null)" != "$unit" ]; then
    step "installing the appliance.service unit"
    printf '%s\n' "$unit" > "$UNIT"
    run systemctl daemon-reload
    CONFIG_CHANGED=1  # a new unit: the service restarts as a whole
  fi
  systemctl is-enabled --quiet appliance 2> /dev/null || run systemctl enable appliance
}

# A new version under a running appliance, its configuration unchanged: migrate, then restart the portal, the
# renderer and each hub in turn (`appliance upgrade`), so that members notice nothing; refused, with the
# running appliance left as it was, when a migration needs downtime and --with-downtime was not given.
upgrade_in_place() {
  local args=() plan
  [ $WITH_DOWNTIME -eq 0 ] || args=(--with-downtime)
  plan=$("$VENV/bin/appliance" upgrade --check "${args[@]}" 2>&1) || {
    printf '%s\n' "$plan" >> "$LOG"
    printf '%s\n' "$plan" >&2
    if [ -d "$VENV.previous" ]; then rm -rf "$VENV"; mv "$VENV.previous" "$VENV"; fi
    fail "this upgrade needs downtime (above); the running appliance and its programs were left as they were. Run install.sh again with --with-downtime when the lab can take a minute without JupyterLab"
  }
  printf '%s\n' "$plan" >> "$LOG"
  step "upgrading the running appliance one component at a time (members' JupyterLabs keep answering)"
  run "$VENV/bin/appliance" upgrade "${args[@]}"
  rm -rf "$VENV.previous"
}

start_appliance() {
  if [ ! -d /run/systemd/system ]; then
    say "systemd is not running on this machine (a container or CI): starting \`appliance up --detach\` instead."
    say "It will not come back by itself after a reboot; run this installer again then."
    if "$VENV/bin/appliance" status > /dev/null 2>&1 && [ $CONFIG_CHANGED -eq 0 ] && [ $UPGRADED -eq 1 ]; then
      upgrade_in_place
    elif "$VENV/bin/appliance" status > /dev/null 2>&1 && [ $((UPGRADED + CONFIG_CHANGED)) -gt 0 ]; then
      step "stopping the appliance to start the new version or configuration"
      run "$VENV/bin/appliance" stop
    fi
    if "$VENV/bin/appliance" status > /dev/null 2>&1; then
      "$VENV/bin/appliance" status
    else
      "$VENV/bin/appliance" up --detach  # shows each component coming up, then the URLs and the first login
    fi
    return
  fi
  ensure_service
  if ! systemctl is-active --quiet appliance; then
    step "starting appliance.service"
    run systemctl start appliance
  elif [ $CONFIG_CHANGED -eq 0 ] && [ $UPGRADED -eq 1 ]; then
    upgrade_in_place
  elif [ $((UPGRADED + CONFIG_CHANGED)) -gt 0 ]; then
    step "restarting appliance.service on the new version or configuration"
    run systemctl restart appliance
    rm -rf "$VENV.previous"
  fi
  step "waiting for every component to be healthy"
  local welcome=()
  [ $FIRST_INSTALL -eq 0 ] || welcome=(--welcome)  # the URLs and, on the first install, the admin login
  "$VENV/bin/appliance" status --wait 180 "${welcome[@]}" \
    || fail "the appliance is not healthy after 180 s; see \`appliance status\` and \`journalctl -u appliance\`"
  if [ -n "$DOMAIN" ]; then
    say ""
    say "Point $DOMAIN, $HUB_HOST and *.$HUB_HOST at this machine (DNS), and open ports 443 and 80 in any firewall."
  else
    members_note
  fi
}

# Whether members are isolated from each other, as `appliance status` says it (DESIGN.md, "Origins").
members_note() {
  say ""
  say "Note: members are $("$VENV/bin/appliance" status --json \
    | "$VENV/bin/python" -c 'import json, sys; print(json.load(sys.stdin)["members"]["note"])')" | fold -s -w 100
}

ensure_browser() {
  # The browser tests drive Debian's Chromium (Playwright's own browser download is not used).
  command -v chromium > /dev/null || apt_install chromium fonts-dejavu-core
}

ensure_axe() {
  # The accessibility tests run axe-core in Chromium as @axe-core/playwright does (its axe-core, injected
  # into the page by the Python tests); playwright-core, its peer, is not needed.
  local version=4.14.0 installed="$VENV/node_modules/@axe-core/playwright/package.json"
  if [ ! -f "$installed" ] || [ "$(node -p "require('$installed').version")" != "$version" ]; then
    step "installing @axe-core/playwright $version (the accessibility tests' axe-core)"
    run npm install --no-audit --no-fund --legacy-peer-deps --prefix "$VENV" "@axe-core/playwright@$version"
  fi
}

ensure_machine_tools() {
  # The fresh-machine tests boot a debootstrapped Debian with systemd-nspawn (tests/machine.py).
  local missing=()
  command -v debootstrap > /dev/null || missing+=(debootstrap)
  command -v systemd-nspawn > /dev/null || missing+=(systemd-container)
  [ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"
}

uninstall() {
  [ "$(id -u)" -eq 0 ] || fail "run as root to uninstall"
  if [ $PURGE -eq 1 ]; then say "Removing appliance, its data and its configuration"
  else say "Removing appliance (its data stays in /var/lib/appliance; --purge removes it)"; fi
  if [ -f "$UNIT" ]; then
    step "stopping and removing appliance.service"
    systemctl disable --now appliance >> "$LOG" 2>&1 || true
    rm -f "$UNIT"
    systemctl daemon-reload >> "$LOG" 2>&1 || true
  elif [ -x "$VENV/bin/appliance" ]; then
    step "stopping the appliance"
    "$VENV/bin/appliance" stop >> "$LOG" 2>&1 || true
  fi
  [ "$(readlink /usr/local/bin/appliance 2> /dev/null)" != "$VENV/bin/appliance" ] || rm -f /usr/local/bin/appliance
  step "removing $PREFIX"
  rm -rf "$PREFIX"
  if [ $PURGE -eq 1 ]; then
    step "removing /var/lib/appliance, members' state and /etc/appliance"
    rm -rf /var/lib/appliance /var/lib/appliance-members /var/lib/private/appliance-members /etc/appliance
  fi
  say "Done."
}

# What would make the installation fail later, said now with what to do about it.
preflight() {
  local problems=() id version free_mb memory_mb
  [ "$(id -u)" -eq 0 ] || problems+=("run as root: sudo $0")
  id=$(. /etc/os-release 2> /dev/null && echo "$ID") || id=unknown
  version=$(. /etc/os-release 2> /dev/null && echo "$VERSION_ID") || version=
  case "$id $version" in
    "debian 12"|"ubuntu 22.04"|"ubuntu 24.04") step "system: $id $version" ;;
    *) problems+=("this is $id $version; the appliance is made for Debian 12 and Ubuntu 22.04 or 24.04 (--skip-checks to try anyway)") ;;
  esac
  free_mb=$(df -Pm /var/lib 2> /dev/null | awk 'NR == 2 {print $4}')
  [ "${free_mb:-0}" -ge 2048 ] || problems+=("only ${free_mb:-?} MB free under /var/lib; the programs and a first lab need 2 GB")
  memory_mb=$(awk '/MemTotal/ {print int($2 / 1024)}' /proc/meminfo)
  [ "$memory_mb" -ge 1800 ] || problems+=("${memory_mb} MB of memory; each member's JupyterLab needs about 200 MB besides ~1 GB for the appliance (2 GB at least)")
  if [ -d /run/systemd/system ]; then step "systemd: running (the appliance becomes a service, started at boot)"
  else step "systemd: not running (a container?): the appliance is started directly, without a service"; fi
  local port holder ports=()
  if [ ! -f "$SYSTEM_CONFIG" ] && ! "$VENV/bin/appliance" status > /dev/null 2>&1; then
    ports=(8000 8001 8002 8003 8010 8011)
  fi
  # --domain takes 443 and 80, unless this appliance serves them already
  if [ -n "$DOMAIN" ] && ! grep -Eq '^[[:space:]]*tls_cert[[:space:]]*=' "$SYSTEM_CONFIG" 2> /dev/null; then
    ports+=(443 80)
  fi
  for port in "${ports[@]}"; do
    (exec 3<> "/dev/tcp/127.0.0.1/$port") 2> /dev/null || continue  # nobody answers there: free
    holder=$(ss -Hltnp "sport = :$port" 2> /dev/null | sed -n 's/.*users:(("\([^"]*\)".*/\1/p' | head -1)
    problems+=("port $port is taken${holder:+ by $holder}; free it, or set the ports in $SYSTEM_CONFIG first")
  done
  if [ ${#problems[@]} -gt 0 ]; then
    printf 'install.sh: this machine is not ready:\n' >&2
    printf '  - %s\n' "${problems[@]}" >&2
    [ $CHECK -eq 0 ] && { say "continuing anyway (--skip-checks)"; return; }
    exit 1
  fi
}

main() {
  say "Installing appliance (details in $LOG)"
  if [ $DEV -eq 1 ]; then PHASES=4; else phase "checking this machine"; preflight; fi
  phase "system packages"
  ensure_python
  ensure_postgresql
  ensure_node
  [ $DEV -eq 0 ] || ensure_browser
  [ $DEV -eq 0 ] || ensure_machine_tools
  phase "the appliance's Python environment in $VENV"
  ensure_venv
  [ $DEV -eq 0 ] || ensure_labextension
  phase "the front proxy"
  ensure_proxy
  [ $DEV -eq 0 ] || ensure_axe
  [ $DEV -eq 1 ] || ensure_command_link
  if [ $DEV -eq 1 ]; then phase "ready: $VENV"; return; fi
  phase "configuration"
  ensure_config
  if [ $START -eq 1 ]; then
    phase "starting"; start_appliance
  else  # the unit is there and enabled, for `appliance join` or a configuration of the operator's, then a start
    [ ! -d /run/systemd/system ] || ensure_service
    phase "installed (not started: --no-start; start it with \`systemctl start appliance\`)"
  fi
  touch "$DONE"
}

if [ $UNINSTALL -eq 1 ]; then uninstall; else main; fi
