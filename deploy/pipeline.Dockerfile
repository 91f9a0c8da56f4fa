# The spinewise image (pipeline service; also the optional containerised gateway).
#   docker compose -f deploy/compose.yaml build pipeline
# Two stages: wheels are built with a compiler (some dependencies have no wheel for every
# Raspberry Pi architecture), the runtime image has no compiler.
FROM python:3.11-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README* ./
COPY spinewise ./spinewise
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links /wheels spinewise && rm -rf /wheels \
    && useradd --system --uid 10001 --home-dir /var/lib/spinewise spinewise \
    && install -d -o spinewise -g spinewise /var/lib/spinewise

# State (analyzer snapshots, coaching db, InfluxDB spool) lives in the volume.
ENV SPINEWISE_PIPELINE__STATE_DIR=/var/lib/spinewise/pipeline \
    SPINEWISE_INFLUX__SPOOL_DIR=/var/lib/spinewise/spool \
    SPINEWISE_COACHING__STATE_DB=/var/lib/spinewise/coaching.sqlite \
    SPINEWISE_GATEWAY__SPOOL_DIR=/var/lib/spinewise/gateway-spool
USER spinewise
WORKDIR /var/lib/spinewise
ENTRYPOINT ["spinewise"]
CMD ["--config", "/etc/spinewise/spinewise.toml", "pipeline"]
