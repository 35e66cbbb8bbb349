#!/usr/bin/env bash
# The whole test suite, from a fresh Debian machine: installs what is
# missing, builds (plain and ASan+UBSan), starts a real single-node Kafka
# (KRaft, fetched from Maven Central) on loopback, runs every test, stops
# Kafka. Set HOOKBRIDGE_TEST_BROKERS to use a broker you already run.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
jobs=$(nproc 2>/dev/null || echo 2)

step() { printf '\n==> %s\n' "$*"; }

step "dependencies"
tests/deps.sh

step "format check (.clang-format)"
drift=$(git ls-files '*.c' '*.h' 2>/dev/null | xargs -r clang-format --dry-run 2>&1 | grep -c 'warning:' || true)
if [ "${drift:-0}" -gt 0 ]; then
        git ls-files '*.c' '*.h' | xargs -r clang-format --dry-run 2>&1 | head -20
        echo "clang-format: $drift places drift from .clang-format (run clang-format -i)" >&2
        exit 1
fi

step "build (RelWithDebInfo)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$jobs"

step "build (ASan + UBSan)"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DHB_ASAN=ON >/dev/null
cmake --build build-asan -j"$jobs"

step "fuzzing: saved inputs, then 5 s per harness (libFuzzer, ASan + UBSan)"
tests/fuzz/run.sh 5

step "deployment files (no Docker engine here: validate only)"
docker-compose -f docker-compose.yml config -q
(cd deploy && promtool check config prometheus.yml >/dev/null &&
        promtool check rules prometheus-rules.yml >/dev/null)
python3 -c 'import yaml; d=[x for x in yaml.safe_load_all(open("deploy/k8s.yaml")) if x]; open("build/k8s-hookbridge.cfg","w").write(next(x for x in d if x["kind"]=="ConfigMap")["data"]["hookbridge.cfg"])'
WEBHOOK_SECRET=whsec_ZG9ja2VyLWNvbXBvc2UtZGVtby1zZWNyZXQ= \
        build/hookbridge check-config -c build/k8s-hookbridge.cfg
WEBHOOK_SECRET=whsec_ZG9ja2VyLWNvbXBvc2UtZGVtby1zZWNyZXQ= \
        build/hookbridge check-config -c deploy/hookbridge.cfg
build/hookbridge check-config -c config/hookbridge.example.cfg

step "Kafka broker"
started=0
if [ -z "${HOOKBRIDGE_TEST_BROKERS:-}" ]; then
        tests/kafka/kafka.sh start
        started=1
        eval "export $(tests/kafka/kafka.sh env)"
fi
# (kafka.sh leaves alone a broker named by HOOKBRIDGE_TEST_BROKERS, which
# we exported above: unset it to stop our own.)
cleanup() {
        [ "$started" = 1 ] &&
                env -u HOOKBRIDGE_TEST_BROKERS tests/kafka/kafka.sh stop || true
}
trap cleanup EXIT
echo "brokers: $HOOKBRIDGE_TEST_BROKERS"

step "demo (embedded Kafka, built-in receiver)"
build/hookbridge demo >build/demo.out 2>&1 || { cat build/demo.out; exit 1; }
tail -n 8 build/demo.out

step "unit tests under ASan + UBSan"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
LSAN_OPTIONS=suppressions=$root/tests/lsan.supp \
        ctest --test-dir build-asan -L unit --output-on-failure -j"$jobs"

step "real-broker tests under ASan + UBSan (worker binary sanitized too)"
# (the fault suite runs in the plain build below: under ASan its
# start-then-SIGTERM scenarios race the slower sanitizer start-up)
ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS=suppressions=$root/tests/lsan.supp \
        ctest --test-dir build-asan -L kafka -E test_faults --output-on-failure

step "all tests (unit + real broker)"
ctest --test-dir build --output-on-failure
