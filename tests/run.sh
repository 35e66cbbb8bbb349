#!/usr/bin/env bash
# The whole test suite, from a fresh Debian machine: installs what is
# missing, builds (plain, ASan+UBSan, TSan), starts a real single-node Kafka
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

step "build (Release, -O3) and its unit tests"
# What a user who asks for -DCMAKE_BUILD_TYPE=Release gets: -O3 finds
# warnings (-Wformat-truncation, ...) the other builds do not.
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-release -j"$jobs"
ctest --test-dir build-release -L unit --output-on-failure -j"$jobs"

step "build (ASan + UBSan)"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DHB_ASAN=ON >/dev/null
cmake --build build-asan -j"$jobs"

step "build (ThreadSanitizer, clang: the binaries, not the test runners)"
# Criterion cannot start under TSan (its BoxFort arena collides with TSan's
# shadow memory): the plain test runners run this hookbridge instead
# (HB_TEST_HOOKBRIDGE). tests/tsan_c11threads.c makes librdkafka's C11
# threads visible to TSan.
CC=clang cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=Debug -DHB_TSAN=ON \
        -DHB_TESTS=OFF >/dev/null
cmake --build build-tsan -j"$jobs"
# Races make the binary exit 66 and leave a report in build-tsan/reports;
# tests/tsan.supp holds third-party races only.
tsan_reports=$root/build-tsan/reports
tsan_opts="halt_on_error=1 second_deadlock_stack=1"
tsan_opts+=" suppressions=$root/tests/tsan.supp log_path=$tsan_reports/tsan"
tsan_check() {
        if compgen -G "$tsan_reports/tsan.*" >/dev/null; then
                cat "$tsan_reports"/tsan.*
                echo "ThreadSanitizer: reports above ($tsan_reports)" >&2
                exit 1
        fi
}

step "fuzzing: saved inputs, then 5 s per harness (libFuzzer, ASan + UBSan)"
tests/fuzz/run.sh 5

step "deployment files (validated; tests/docker/run.sh runs them below)"
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

step "demo under valgrind memcheck"
valgrind -q --error-exitcode=3 --leak-check=full \
        --errors-for-leak-kinds=definite build/hookbridge demo \
        >build/demo-valgrind.out 2>&1 ||
        { cat build/demo-valgrind.out; exit 1; }
tail -n 2 build/demo-valgrind.out

step "demo under ThreadSanitizer (mock cluster, receiver, worker threads)"
rm -rf "$tsan_reports" && mkdir -p "$tsan_reports"
TSAN_OPTIONS=$tsan_opts build-tsan/hookbridge demo \
        >build-tsan/demo.out 2>&1 ||
        { cat build-tsan/demo.out; tsan_check; exit 1; }
tsan_check
tail -n 2 build-tsan/demo.out

step "unit tests under ASan + UBSan"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
LSAN_OPTIONS=suppressions=$root/tests/lsan.supp \
        ctest --test-dir build-asan -L unit --output-on-failure -j"$jobs"

step "real-broker tests under ASan + UBSan (worker binary sanitized too)"
# (fx_spawn waits for "worker started", so the fault suite's SIGTERMs no
# longer race the slower sanitizer start-up)
ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS=suppressions=$root/tests/lsan.supp \
        ctest --test-dir build-asan -L kafka --output-on-failure

step "worker under ThreadSanitizer against the real broker"
# Plain test runners, TSan worker: consuming, delivering, committing,
# SIGHUP reloads and SIGTERM while /metrics, /readyz and /status are
# fetched, then the fault suite (rebalances, broker restart, dead
# receivers). The tests want exit status 0, which a race takes away.
rm -rf "$tsan_reports" && mkdir -p "$tsan_reports"
HB_TEST_HOOKBRIDGE=$root/build-tsan/hookbridge TSAN_OPTIONS=$tsan_opts \
        ctest --test-dir build -R 'test_(operate|pipeline|faults)$' \
        --output-on-failure || { tsan_check; exit 1; }
tsan_check
# the API's threads too: schemathesis against the TSan worker
# (tests/api/run.sh; a redrive runs a second worker in the process)
rm -rf "$tsan_reports" && mkdir -p "$tsan_reports"
HB_API_HOOKBRIDGE=$root/build-tsan/hookbridge TSAN_OPTIONS=$tsan_opts \
        tests/api/run.sh build-tsan || { tsan_check; exit 1; }
tsan_check

step "all tests (unit + real broker)"
ctest --test-dir build --output-on-failure

step "the portal in a browser (tests/portal/run.sh: chromium + playwright-core)"
# a real hookbridge (API + worker) on the broker, the test receiver, the
# page driven through its forms; screenshots in build/portal-screenshots
tests/portal/run.sh

step "management API against its OpenAPI document (tests/api/run.sh)"
# openapi-spec-validator, then schemathesis against the ASan + UBSan worker
# (the API on, this broker): no 5xx, every answer as documented; a memory
# error or a leak at exit fails it too
ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS=suppressions=$root/tests/lsan.supp \
        HB_API_HOOKBRIDGE=$root/build-asan/hookbridge tests/api/run.sh build

step "containers: the image and the compose stack for real (tests/docker/run.sh)"
# its own dockerd (host network only, stopped at the end), base images from
# debootstrap (cached), the image against this broker, then compose with
# its own Kafka in a loopback namespace of its own; ~3 min warm
tests/docker/run.sh

step "benchmark smoke run (keeps bench/run.sh working; the numbers mean nothing)"
# its own broker on 127.0.0.1:39092 and nginx sink; 5,000 events, < 2 min
cleanup
started=0
bench/run.sh --smoke
