# newswatch service image: `docker build -t newswatch .` from a clean checkout.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    NEWSWATCH_DATA_DIR=/data \
    NEWSWATCH_HTTP_HOST=0.0.0.0 \
    NEWSWATCH_HTTP_PORT=8080

RUN useradd --system --create-home --uid 10001 newswatch \
    && mkdir -p /data && chown newswatch /data

WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY handlers ./handlers
COPY filters ./filters
COPY config ./config
RUN pip install ".[semantic,fulltext]"

USER newswatch
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz')" || exit 1
ENTRYPOINT ["newswatch"]
CMD ["run"]
