#!/usr/bin/env bash
# The portal's browser test (portal.test.mjs, node's test runner):
# Debian's chromium driven by playwright-core (pinned in package.json and
# package-lock.json, installed with `npm ci` into a cache folder, once per
# lock file) against build/hookbridge and build/hb-receiver on the broker
# of HOOKBRIDGE_TEST_BROKERS. Screenshots go to build/portal-screenshots;
# --update-screenshots writes them to portal/screenshots/ (the README's).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD

: "${HOOKBRIDGE_TEST_BROKERS:?the browser test needs a broker (HOOKBRIDGE_TEST_BROKERS)}"
build=${HB_BUILD_DIR:-$root/build}
for b in hookbridge hb-receiver; do
        [ -x "$build/$b" ] || { echo "portal test: build $build/$b first" >&2; exit 1; }
done
command -v chromium >/dev/null || { echo "portal test: chromium missing (tests/deps.sh)" >&2; exit 1; }
command -v node >/dev/null || { echo "portal test: node missing (tests/deps.sh)" >&2; exit 1; }
command -v kcat >/dev/null || { echo "portal test: kcat missing (tests/deps.sh)" >&2; exit 1; }

cache=${HB_PORTAL_CACHE:-$root/.cache/portal-test}
mkdir -p "$cache"
if ! cmp -s tests/portal/package-lock.json "$cache/package-lock.json" ||
        [ ! -d "$cache/node_modules/playwright-core" ]; then
        cp tests/portal/package.json tests/portal/package-lock.json "$cache/"
        (cd "$cache" && npm ci --no-audit --no-fund --loglevel=error)
fi

export HB_BUILD_DIR=$build HB_PORTAL_NODE_MODULES=$cache/node_modules
export HB_PORTAL_SCREENSHOTS=$build/portal-screenshots
if [ "${1:-}" = "--update-screenshots" ]; then
        export HB_PORTAL_SCREENSHOTS=$root/portal/screenshots
fi
exec node --test --test-concurrency=1 --test-reporter=spec tests/portal/portal.test.mjs
