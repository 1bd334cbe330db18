# Build stage: compiles and runs the unit and integration tests, so a broken build never ships.
FROM debian:12 AS build
WORKDIR /src
COPY script/bootstrap script/bootstrap
COPY tests/npm/package.json tests/npm/package-lock.json tests/npm/
RUN script/bootstrap
COPY . .
# The whole suite; the PostgreSQL tests run against a throwaway server that script/with-postgres starts.
RUN script/build && script/with-postgres ctest --preset default --parallel 2 --output-on-failure

# Runtime stage: the binary, the flows and prompts, and only the shared libraries it needs.
FROM debian:12-slim
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends \
      libcpp-httplib0.11 libyaml-cpp0.7 libcurl4 libsqlite3-0 libpq5 libssl3 libdate-tz3 tzdata \
      ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home /srv/hotline --shell /usr/sbin/nologin hotline
WORKDIR /srv/hotline
COPY --from=build /src/build/bin/hotline /usr/local/bin/hotline
COPY --from=build /src/flows flows
COPY --from=build /src/prompts prompts
COPY --from=build /src/config config
RUN mkdir -p data && chown hotline:hotline data
USER hotline
# One replica with its own SQLite file by default; set HOTLINE_DB=postgresql://… for several
# replicas sharing one database (docker-compose.yml).
ENV HOTLINE_DB=/srv/hotline/data/hotline.sqlite3
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s CMD curl -fsS http://127.0.0.1:8080/healthz || exit 1
CMD ["hotline", "serve", "--bind", "0.0.0.0", "--port", "8080"]
