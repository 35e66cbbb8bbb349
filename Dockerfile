# hookbridge: multi-stage build; the runtime image holds only the binaries,
# their shared libraries and a non-root user.
#
#   docker build -t hookbridge .
#   docker run --rm hookbridge --version
#   docker run --rm hookbridge demo        # the whole pipeline, no services
#
# On its own, against a broker on this host (127.0.0.1:9092, topic
# "events"): the image's hb-receiver as the webhook and a configuration
# file, both containers on the host network (127.0.0.1 is the host's):
#
#   export WEBHOOK_SECRET=whsec_ZXhhbXBsZS1zZWNyZXQtY2hhbmdlLW1l
#   docker run -d --name receiver --network host --no-healthcheck \
#       --entrypoint hb-receiver hookbridge \
#       --port 8080 --secret "/hooks/demo=$WEBHOOK_SECRET"
#   cat >hookbridge.cfg <<'EOF'
#   kafka = { brokers = "127.0.0.1:9092";
#             topics = ( { name = "events"; app_token = "NX-demo"; } ); };
#   delivery = { allow_networks = [ "127.0.0.0/8" ];   # a local receiver
#                shutdown_timeout_ms = 20000; };
#   webhooks = ( { name = "demo"; url = "http://127.0.0.1:8080/hooks/demo";
#                  events = [ "*" ]; secret_env = "WEBHOOK_SECRET"; } );
#   EOF
#   docker run -d --name hookbridge --network host --stop-timeout 30 \
#       -e WEBHOOK_SECRET \
#       -v "$PWD/hookbridge.cfg:/etc/hookbridge/hookbridge.cfg:ro" hookbridge
#   docker logs -f receiver                # a line per webhook, verified=yes
#
# Stop time: on SIGTERM hookbridge drains for delivery.shutdown_timeout_ms
# (20 s above). docker stop gives 10 s unless told, then kills, and the
# unfinished deliveries are sent again by the next owner: give more than
# shutdown_timeout_ms (--stop-timeout 30; compose stop_grace_period;
# Kubernetes terminationGracePeriodSeconds). deploy/hookbridge.cfg is
# docker-compose.yml's: its hosts exist only there.

# --- build: Debian 12's -dev packages, the same versions CI tests -------------
FROM debian:12 AS build
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        build-essential cmake pkg-config \
        librdkafka-dev libcurl4-openssl-dev libjson-c-dev libssl-dev \
        libconfig-dev libmicrohttpd-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# The whole context (.dockerignore keeps build trees, .git and caches out),
# so a new source folder needs no change here.
COPY . .
RUN cmake -S . -B /out -DCMAKE_BUILD_TYPE=Release -DHB_TESTS=OFF \
    && cmake --build /out -j"$(nproc)" --target hookbridge hb-receiver \
    && strip /out/hookbridge /out/hb-receiver \
    && /out/hookbridge --version

# --- runtime: the shared libraries only ----------------------------------------
FROM debian:12-slim
ARG DEBIAN_FRONTEND=noninteractive
LABEL org.opencontainers.image.title="hookbridge" \
      org.opencontainers.image.description="Kafka to webhook bridge" \
      org.opencontainers.image.base.name="debian:12-slim"
# curl only for the HEALTHCHECK below.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        librdkafka1 libcurl4 libjson-c5 libssl3 libconfig9 libmicrohttpd12 \
        ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 hookbridge \
    && useradd --system --uid 10001 --gid 10001 --home-dir /nonexistent \
        --no-create-home --shell /usr/sbin/nologin hookbridge \
    && mkdir -p /etc/hookbridge
COPY --from=build /out/hookbridge /out/hb-receiver /usr/local/bin/
COPY config/hookbridge.example.cfg /etc/hookbridge/hookbridge.example.cfg
# Numeric, so Kubernetes' runAsNonRoot can verify it.
USER 10001:10001
# The admin listener; the configuration must say admin.listen =
# "0.0.0.0:9464" for anything outside the container (Prometheus) to reach
# it. The HEALTHCHECK reaches it on loopback either way; with another port
# in admin.listen, set HOOKBRIDGE_ADMIN_PORT (docker run -e) to match.
# /healthz stays 200 without a broker (the process is fine: restarting it
# would not help); /readyz is the readiness signal.
EXPOSE 9464
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD curl -fsS -o /dev/null "http://127.0.0.1:${HOOKBRIDGE_ADMIN_PORT:-9464}/healthz" || exit 1
# SIGTERM drains in-flight deliveries for delivery.shutdown_timeout_ms:
# give the container more than that to stop (compose stop_grace_period,
# Kubernetes terminationGracePeriodSeconds).
STOPSIGNAL SIGTERM
ENTRYPOINT ["hookbridge"]
CMD ["run", "-c", "/etc/hookbridge/hookbridge.cfg"]
