#!/bin/sh
# Install the Debian packages isapid needs to build, test and run (Debian 12).
# Root: apt-get installs what is missing. Not root: prints the exact apt-get line and fails.
set -eu

PACKAGES="gcc g++ make cmake pkg-config node-llhttp libinih-dev libsystemd-dev curl python3 procps groff-base systemd haproxy openssl"

missing=""
for p in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
    echo "isapid needs these Debian packages:$missing" >&2
    echo "Install them as root with:" >&2
    echo "    apt-get install -y$missing" >&2
    exit 1
fi
echo "Installing Debian packages:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
