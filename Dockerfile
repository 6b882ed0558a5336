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
STOPSIGNAL SIGTERM
CMD ["python", "main.py", "run"]
