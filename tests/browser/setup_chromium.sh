#!/usr/bin/env bash
# Headless Chromium and its WebDriver for the review page's browser test
# (tests/workflow/test_review_browser.py): Debian's chromium and chromium-driver packages, which
# install /usr/bin/chromium and /usr/bin/chromedriver.
#
#   tests/browser/setup_chromium.sh      install them where missing; exit 0 when both are there
#
# Idempotent. Needs root and apt-get (Debian); without them, or when the install fails, it exits
# with status 3 and says why: the test then skips itself and names what is missing.
set -euo pipefail

say() { echo "setup_chromium: $*" >&2; }
cannot() {
    say "cannot install: $*"
    exit 3
}

if [[ -x /usr/bin/chromium && -x /usr/bin/chromedriver ]]; then
    say "chromium and chromedriver are installed"
    exit 0
fi
[[ $(id -u) == 0 ]] || cannot "needs root (installs Debian packages)"
command -v apt-get >/dev/null || cannot "needs apt-get (Debian/Ubuntu)"
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null ||
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null; } ||
    cannot "apt-get install chromium chromium-driver failed"
[[ -x /usr/bin/chromium && -x /usr/bin/chromedriver ]] || cannot "the packages did not install /usr/bin/chromium and /usr/bin/chromedriver"
say "installed $(/usr/bin/chromium --version 2>/dev/null | head -1)"
