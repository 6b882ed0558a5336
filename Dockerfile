FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

# Dependencies first, so code changes do not reinstall them.
COPY pyproject.toml README.md ./
COPY bot/__init__.py bot/__init__.py
RUN pip install . && pip uninstall -y jobhound

COPY bot bot
COPY config config
COPY seeds seeds
COPY main.py ./
RUN pip install --no-deps . \
    && useradd --system --uid 10001 --home-dir /data jobhound \
    && mkdir -p /data && chown jobhound /data

USER jobhound
VOLUME ["/data"]
# The database lives on the volume; the rest of the config is the bundled default.
ENV JOBHOUND_CONFIG=/app/config/jobhound.toml JOBHOUND_DB=/data/jobhound.db
# /healthz and /metrics ([http] listen); all interfaces so a Prometheus beside it can scrape.
ENV JOBHOUND_HTTP_LISTEN=0.0.0.0:9464
EXPOSE 9464
# urlopen raises on a 503 or no answer, so a stalled scheduler marks the container unhealthy;
# python itself, as the image has no curl. start-period: the first cycle runs at start-up.
HEALTHCHECK --interval=60s --timeout=10s --start-period=120s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9464/healthz', timeout=8)"]
STOPSIGNAL SIGTERM
CMD ["python", "main.py", "run"]
