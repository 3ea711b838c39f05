#!/bin/sh
# Install evsed on a Raspberry Pi (or any systemd Linux board) from this checkout.
#   sudo sh systemd/install.sh            # install / upgrade, keep /etc/evsed/evsed.toml
# Creates the evsed user, a virtual environment in /opt/evsed/venv with the board extras, the
# first A/B slot (/opt/evsed/slots/a, /opt/evsed/current), the unit file, and an example
# configuration if none exists. Then:
#   sudo nano /etc/evsed/evsed.toml && evsed check --config /etc/evsed/evsed.toml
#   sudo systemctl enable --now evsed
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
[ "$(id -u)" = 0 ] || { echo "run as root (sudo)" >&2; exit 1; }
id evsed >/dev/null 2>&1 || useradd --system --home-dir /var/lib/evsed --shell /usr/sbin/nologin evsed
for g in gpio i2c spi dialout; do getent group "$g" >/dev/null || groupadd --system "$g"; done
python3 -m venv /opt/evsed/venv
/opt/evsed/venv/bin/pip install --upgrade pip
/opt/evsed/venv/bin/pip install "$here[pi]"
# The first A/B slot (later ones come as firmware updates): a wheel of this checkout, run by the
# venv's interpreter through /opt/evsed/current/bin/evsed. The daemon may rewrite the slots only.
if [ ! -L /opt/evsed/current ]; then
    rm -rf /opt/evsed/release && /opt/evsed/venv/bin/pip wheel --no-deps -w /opt/evsed/release "$here"
    /opt/evsed/venv/bin/python -c 'import sys; from pathlib import Path; from controller.firmware.slots import SlotRoot
SlotRoot(Path("/opt/evsed")).provision(Path(sys.argv[1]))' /opt/evsed/release/evsed-*.whl
    rm -rf /opt/evsed/release
fi
chown evsed:evsed /opt/evsed && chown -R evsed:evsed /opt/evsed/slots
ln -sf /opt/evsed/current/bin/evsed /usr/local/bin/evsed
install -d -m 0755 /etc/evsed
[ -f /etc/evsed/evsed.toml ] || install -m 0640 -g evsed "$here/systemd/examples/evsed.toml" /etc/evsed/evsed.toml
install -m 0644 "$here/systemd/evsed.service" /etc/systemd/system/evsed.service
systemctl daemon-reload
echo "installed; edit /etc/evsed/evsed.toml, run 'evsed check --config /etc/evsed/evsed.toml', then 'systemctl enable --now evsed'"
