# press-monitor: the daemon in a container. Mirrors the README's install steps.
# Config in /config (monitor.yaml and watch lists), the database in /data.
FROM python:3.11.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    MONITOR_CONFIG=/config/monitor.yaml

WORKDIR /app
COPY pyproject.toml README.md constraints.txt ./
COPY monitor ./monitor
RUN pip install --no-cache-dir -c constraints.txt . \
    && useradd --system --uid 10001 --home-dir /data monitor \
    && mkdir -p /data /config \
    && chown monitor /data

# The example config; mount your own over /config. Its database path (../data) is /data.
COPY config /config

USER 10001
VOLUME ["/data", "/config"]
EXPOSE 9108

# Asks the daemon's /healthz, so the config must set http.listen (the example does).
HEALTHCHECK --interval=60s --timeout=10s --start-period=30s --retries=3 \
    CMD ["monitor", "health"]

ENTRYPOINT ["monitor"]
CMD ["run"]
