#!/usr/bin/env bash
# Install what hookbridge needs to build, test and benchmark on Debian 12:
# compilers, the libraries of the stack, Criterion, kcat, and for the test
# suite Java 17 + Maven (Apache Kafka is fetched from Maven Central by
# tests/kafka/kafka.sh), nginx + wrk for benchmarks, and for the container
# step (tests/docker/run.sh) Debian's Docker engine, docker-compose and
# debootstrap; for the portal's browser test (tests/portal/run.sh) Debian's
# chromium, and Node.js with npm when the machine has none (playwright-core
# wants Node.js 20 or later: Debian 12's is 18, CI images bring their own);
# python3-venv for the API test's pinned tools from PyPI (tests/api/run.sh).
# Idempotent; quiet when all is present.
set -euo pipefail

pkgs=(build-essential cmake pkg-config git
      librdkafka-dev libcurl4-openssl-dev libjson-c-dev libssl-dev
      libconfig-dev libcriterion-dev libmicrohttpd-dev
      kcat clang-format curl python3 python3-venv
      openjdk-17-jre-headless maven
      nginx-light wrk docker-compose valgrind prometheus python3-yaml
      clang libclang-rt-14-dev
      docker.io debootstrap
      chromium nodejs npm)

missing=()
for p in "${pkgs[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
                grep -q "install ok installed" || missing+=("$p")
done
# A JDK/Maven installed another way (the CI image has them) is fine too.
if command -v java >/dev/null && command -v mvn >/dev/null; then
        missing=("${missing[@]/openjdk-17-jre-headless/}")
        missing=("${missing[@]/maven/}")
fi
# Node.js installed another way (nodesource, nvm) is fine too, and is what
# the browser test wants; Debian's npm would conflict with it.
if command -v node >/dev/null && command -v npm >/dev/null; then
        missing=("${missing[@]/nodejs/}")
        missing=("${missing[@]/npm/}")
fi
read -r -a missing <<<"${missing[*]:-}"
[ "${#missing[@]}" -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# The engine must not start as a service: its default bridge and iptables
# rules are what tests/docker/run.sh avoids (it starts its own dockerd,
# host network only). policy-rc.d keeps the package scripts from starting
# it; systemd, where it runs, is told not to start it later either.
policy=""
if [[ " ${missing[*]} " == *" docker.io "* ]] && [ ! -e /usr/sbin/policy-rc.d ]; then
        policy=/usr/sbin/policy-rc.d
        printf '#!/bin/sh\n# tests/deps.sh, while installing docker.io\nexit 101\n' |
                $sudo tee "$policy" >/dev/null
        $sudo chmod 755 "$policy"
fi
rc=0
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || rc=$?
[ -z "$policy" ] || $sudo rm -f "$policy"
[ "$rc" = 0 ] || exit "$rc"
if [[ " ${missing[*]} " == *" docker.io "* ]] && [ -d /run/systemd/system ]; then
        $sudo systemctl disable --now docker.service docker.socket >/dev/null 2>&1 || true
fi
