#!/usr/bin/env bash
# Installs Debian's chromium when /usr/bin/chromium is missing: the console's
# browser tests (exchange/console) drive it headless through chromedp.
# Run as root (CI images) or with sudo available; a no-op when installed.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
	exit 0
fi
sudo=""
if [ "$(id -u)" != 0 ]; then
	if ! command -v sudo >/dev/null; then
		echo "chromium.sh: /usr/bin/chromium is missing and this user cannot apt-get install it (no root, no sudo)" >&2
		exit 1
	fi
	sudo=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends chromium
