#!/bin/sh
# Install or upgrade evsed on a Raspberry Pi (or any Debian-based systemd Linux board) from this
# checkout:
#   sudo sh systemd/install.sh
# First run: the Debian packages it needs (apt-get), the evsed user, /opt/evsed/venv with the
# Python dependencies and the board extras, the first A/B slot (/opt/evsed/slots/a and the link
# /opt/evsed/current), /usr/local/bin/evsed, the unit file and an example /etc/evsed/evsed.toml.
# Then:
#   sudo nano /etc/evsed/evsed.toml && evsed check --config /etc/evsed/evsed.toml
#   sudo systemctl enable --now evsed
# Run it again from a newer checkout to upgrade: the dependencies are brought up to date, the
# new release must accept /etc/evsed/evsed.toml (kept as it is), then it goes into the other
# slot on trial like an OCPP firmware update (README "Firmware updates"): if it does not come
# up, the launcher returns to the release that runs now. A running service is restarted into it.
# Every step can be repeated: after a failure, fix what it names and run it again.
set -eu

here=$(cd "$(dirname "$0")/.." && pwd)
prefix=/opt/evsed
venv=$prefix/venv
config=/etc/evsed/evsed.toml
unit=/etc/systemd/system/evsed.service
packages="python3 python3-venv python3-dev gcc libc6-dev"  # C extensions (spidev, RPi.GPIO) build on the box
work=""
doing=""

say() { printf 'evsed install: %s\n' "$*"; }
step() { doing=$*; say "$*"; }
fail() { printf 'evsed install: %s\n' "$*" >&2; doing=""; exit 1; }
finish() {
    code=$?
    [ -z "$work" ] || rm -rf "$work"
    if [ "$code" != 0 ] && [ -n "$doing" ]; then
        printf 'evsed install: FAILED (exit %s) while: %s\n' "$code" "$doing" >&2
        printf 'evsed install: nothing after that step was done; fix the cause and run it again\n' >&2
    fi
}
trap finish EXIT

[ "$(id -u)" = 0 ] || fail "run it as root (sudo sh systemd/install.sh)"
[ -f "$here/pyproject.toml" ] || fail "$here is not an evsed checkout (no pyproject.toml)"

if command -v apt-get >/dev/null 2>&1; then
    missing=""
    for p in $packages; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
    done
    if [ -n "$missing" ]; then
        step "installing Debian packages:$missing"
        apt-get update -q
        # shellcheck disable=SC2086 # a list of package names
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing
    fi
else
    say "no apt-get here: Python 3.11+ with venv, its headers and a C compiler must be installed already"
fi
step "checking Python"
python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || fail "evsed needs Python 3.11 or later; this system has $(python3 --version 2>&1)"

step "creating the evsed user and the hardware groups"
for g in gpio i2c spi dialout; do getent group "$g" >/dev/null || groupadd --system "$g"; done
id evsed >/dev/null 2>&1 || useradd --system --home-dir /var/lib/evsed --shell /usr/sbin/nologin evsed

# The release is built from a copy: a build as root leaves no root-owned files in the checkout.
work=$(mktemp -d)
step "building the release from $here"
tar -C "$here" --exclude=./.venv --exclude=./.git --exclude=./build --exclude='*.egg-info' -cf - . \
    | tar -C "$work" -xf -
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q --upgrade pip
"$venv/bin/pip" wheel -q --no-deps -w "$work/release" "$work"
wheel=$(ls "$work"/release/evsed-*.whl)

step "installing the Python dependencies into $venv (a few minutes on a Pi)"
"$venv/bin/pip" install -q "${wheel}[pi]"
"$venv/bin/pip" install -q --no-deps --force-reinstall "$wheel"  # the same version number may hold new code

upgrade=no
[ ! -L "$prefix/current" ] || upgrade=yes
if [ "$upgrade" = yes ] && [ -f "$config" ]; then
    step "checking $config with the new release"
    "$venv/bin/evsed" check --config "$config" >/dev/null \
        || fail "the new release does not accept $config (see above): fix it, then run the installer again"
fi

step "installing the release into an A/B slot under $prefix"
"$venv/bin/python" - "$prefix" "$wheel" "$config" <<'EOF'
import sys
import time
from pathlib import Path

from controller.config import load
from controller.firmware import FirmwareConfig
from controller.firmware.slots import InstallFailed, SlotRoot, install_checkout
from hal.config import ConfigError

prefix, wheel, config = (Path(a) for a in sys.argv[1:4])
try:
    firmware = load(config).firmware if config.is_file() else FirmwareConfig()  # its trial rule
    print("evsed install:", install_checkout(SlotRoot(prefix), wheel, firmware, time.time()))
except (ConfigError, InstallFailed) as exc:
    sys.exit(f"evsed install: {exc}")
EOF
chown evsed:evsed "$prefix"
chown -R evsed:evsed "$prefix/slots"
[ ! -e "$prefix/update.json" ] || chown evsed:evsed "$prefix/update.json"
ln -sf "$prefix/current/bin/evsed" /usr/local/bin/evsed

step "installing the configuration directory and the unit file"
install -d -m 0755 /etc/evsed
[ -f "$config" ] || install -m 0640 -g evsed "$here/systemd/examples/evsed.toml" "$config"
install -m 0644 "$here/systemd/evsed.service" "$unit"

if [ ! -d /run/systemd/system ]; then
    doing=""
    say "systemd is not running here (a chroot or a container?): the unit is installed but not loaded;"
    say "on the booted system run 'systemctl daemon-reload', then 'systemctl restart evsed' if it runs"
elif [ "$upgrade" = yes ] && systemctl is-active --quiet evsed; then
    step "restarting evsed into the new release"
    systemctl daemon-reload
    systemctl restart evsed
    say "upgraded; 'journalctl -u evsed -f' shows the new release come up (or the launcher roll it back)"
else
    step "reloading systemd"
    systemctl daemon-reload
    if [ "$upgrade" = yes ]; then
        say "upgraded; evsed is not running: 'systemctl start evsed' starts the new release (on trial)"
    else
        say "installed; edit $config, run 'evsed check --config $config', then 'systemctl enable --now evsed'"
    fi
fi
doing=""
