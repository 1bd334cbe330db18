# Build stage: compiles and runs the unit and integration tests, so a broken build never ships.
FROM debian:12 AS build
WORKDIR /src
COPY script/bootstrap script/bootstrap
COPY tests/npm/package.json tests/npm/package-lock.json tests/npm/
# Without clang and the fuzzing runtime (about 3 GB): nothing fuzzes here; CI does (script/test).
RUN HOTLINE_BOOTSTRAP_FUZZ=0 script/bootstrap && rm -rf /var/lib/apt/lists/*
COPY . .
# The whole suite; the PostgreSQL tests run against a throwaway server that script/with-postgres
# starts. Then the binary alone, stripped of its debugging symbols (77 MB → 2.8 MB, measured in
# docs/deployment.md, "The image").
RUN script/build \
 && script/with-postgres ctest --preset default --parallel 2 --output-on-failure \
 && cmake --install build --strip --prefix /opt/hotline

# Runtime stage: the binary, the flows and prompts, and only the shared libraries it needs
# (`ldd` of the stripped binary; docs/deployment.md, "The image").
FROM debian:12-slim
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends \
      libcpp-httplib0.11 libyaml-cpp0.7 libcurl4 libsqlite3-0 libpq5 libssl3 libdate-tz3 \
      libprometheus-cpp-core1.0 tzdata ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 hotline \
 && useradd --system --uid 10001 --gid 10001 --home-dir /srv/hotline --no-create-home \
      --shell /usr/sbin/nologin hotline
WORKDIR /srv/hotline
COPY --from=build /opt/hotline/bin/hotline /usr/local/bin/hotline
COPY --from=build /src/flows flows
COPY --from=build /src/prompts prompts
COPY --from=build /src/config config
# The user's ids are fixed (10001:10001) so a bind mount can be given to them beforehand:
# `chown -R 10001:10001 ./data`. A folder it cannot write stops the start with one line
# saying so (docs/deployment.md, "Data folder").
RUN mkdir -p data && chown 10001:10001 data && chmod 0700 data
VOLUME ["/srv/hotline/data"]
USER 10001:10001
# One replica with its own SQLite file by default; set HOTLINE_DB=postgresql://… for several
# replicas sharing one database (docker-compose.yml). Set the port with HOTLINE_PORT, not
# `--port`: the health check reads the same variable.
ENV HOTLINE_DB=/srv/hotline/data/hotline.sqlite3 \
    HOTLINE_PORT=8080
EXPOSE 8080
# `hotline healthcheck` asks GET /healthz on the port `serve` reads (HOTLINE_PORT, else
# config/hotline.yaml); no curl needed in the image.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s CMD ["hotline", "healthcheck", "--timeout", "3"]
CMD ["hotline", "serve", "--bind", "0.0.0.0"]
