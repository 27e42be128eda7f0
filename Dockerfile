# The smoke gate as a service (smoke-gate serve): runs on demand over HTTP, their history, and
# Prometheus metrics; see docs/service.md. The same image runs queue workers:
#   docker run ... IMAGE smoke-gate worker
#
#   docker build -t smoke-gate .
#   docker run -p 8080:8080 -e SMOKE_SERVER_TOKEN=... \
#     -v "$PWD/profiles:/profiles:ro" -v smoke-gate-data:/data smoke-gate
#
# /profiles holds the .env.NAME profiles (mount them read-only, from a Secret in Kubernetes);
# /data the SQLite history and the runs' reports (or set SMOKE_SERVER_DATABASE_URL to a
# PostgreSQL database). The token comes from SMOKE_SERVER_TOKEN: never bake it into the image.

# Build the wheel from this checkout, so the image runs exactly this version.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM python:3.11-slim
# The service (server), queue workers (worker) and every dependency the bundled suite can
# check (all: PostgreSQL, Redis, HTTP, Azure, ...).
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir "$(echo /wheels/*.whl)[server,worker,all]" \
    && rm -rf /wheels \
    && useradd --uid 10001 --no-create-home --shell /usr/sbin/nologin smoke \
    && mkdir -p /profiles /data \
    && chown 10001:10001 /data

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    SMOKE_SERVER_PORT=8080 \
    SMOKE_SERVER_PROFILES_DIR=/profiles \
    SMOKE_SERVER_DATA_DIR=/data
WORKDIR /profiles
VOLUME ["/data"]
USER 10001
EXPOSE 8080

# /health needs no token; the slim image has no curl, so Python asks.
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('SMOKE_SERVER_PORT', '8080'), timeout=4)"]

# Inside a container the service must listen on every interface (its own default is 127.0.0.1).
CMD ["smoke-gate", "serve", "--host", "0.0.0.0"]
