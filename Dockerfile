# The image of the api, scheduler and worker services (docker-compose.yml).
FROM python:3.11-slim
WORKDIR /app
# pgrep, for the scheduler's and workers' health checks.
RUN apt-get update && apt-get install -y --no-install-recommends procps \
    && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml README.md ./
COPY ml ml
COPY nudge nudge
COPY profile profile
COPY manifests manifests
COPY config config
RUN pip install --no-cache-dir . && useradd --create-home nudge && mkdir /data && chown nudge /data
USER nudge
ENV NUDGE_DATA_DIR=/data NUDGE_MANIFESTS_DIR=/app/manifests
CMD ["nudge", "api"]
