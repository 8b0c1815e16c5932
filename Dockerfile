# press-monitor: the daemon in a container. Mirrors the README's install steps.
FROM python:3.11.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    MONITOR_CONFIG=/config/monitor.yaml

WORKDIR /app
COPY pyproject.toml README.md ./
COPY monitor ./monitor
RUN pip install --no-cache-dir . \
    && useradd --system --uid 10001 --home-dir /data monitor \
    && mkdir -p /data /config \
    && chown monitor /data

COPY config /config

USER 10001
VOLUME ["/data"]

HEALTHCHECK --interval=60s --timeout=10s --start-period=30s --retries=3 \
    CMD ["monitor", "validate", "-c", "/config/monitor.yaml"]

ENTRYPOINT ["monitor", "run"]
