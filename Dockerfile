# hookbridge: multi-stage build; the runtime image holds only the binary,
# its shared libraries and a non-root user.
FROM debian:12 AS build
RUN apt-get update && apt-get install -y --no-install-recommends \
        build-essential cmake pkg-config \
        librdkafka-dev libcurl4-openssl-dev libjson-c-dev libssl-dev \
        libconfig-dev libmicrohttpd-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY CMakeLists.txt ./
COPY config ./config
COPY consumers ./consumers
COPY producers ./producers
COPY worker ./worker
COPY tests/receiver ./tests/receiver
RUN cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DHB_TESTS=OFF \
    && cmake --build build -j"$(nproc)" \
    && strip build/hookbridge build/hb-receiver

FROM debian:12-slim
RUN apt-get update && apt-get install -y --no-install-recommends \
        librdkafka1 libcurl4 libjson-c5 libssl3 libconfig9 libmicrohttpd12 \
        ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /nonexistent \
        --shell /usr/sbin/nologin hookbridge
COPY --from=build /src/build/hookbridge /src/build/hb-receiver /usr/local/bin/
COPY config/hookbridge.example.cfg /etc/hookbridge/hookbridge.example.cfg
USER hookbridge
EXPOSE 9464
# The admin listener must listen beyond loopback for this to reach it:
# admin = { listen = "0.0.0.0:9464"; } in the mounted configuration.
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD curl -fsS http://127.0.0.1:9464/healthz || exit 1
STOPSIGNAL SIGTERM
ENTRYPOINT ["hookbridge"]
CMD ["run", "-c", "/etc/hookbridge/hookbridge.cfg"]
