# dropbox-streamer: the `streamer` command in a slim, non-root image.
#
#   docker build -t dropbox-streamer .
#   docker run --rm dropbox-streamer --help
#
# The default command is `streamer run` with the configuration at $STREAMER_CONFIG
# (config/compose.toml, copied in below; mount your own over /etc/streamer). Secrets come from
# the environment or from files: STREAMER_TEAMS__<TEAM>__APP_SECRET_FILE=/run/secrets/... .
# The streamer keeps its state in Kafka (a compacted topic), so it needs no volume.

# --- build: a wheel of the project and of every dependency ---------------------------------
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY streamer ./streamer
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

# --- run ------------------------------------------------------------------------------------
FROM python:3.11-slim
RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin streamer
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links /wheels dropbox-streamer \
    && rm -rf /wheels
COPY config /etc/streamer
ENV PYTHONUNBUFFERED=1 \
    STREAMER_CONFIG=/etc/streamer/compose.toml \
    STREAMER_METRICS__HOST=0.0.0.0 \
    STREAMER_METRICS__PORT=9464
USER streamer
EXPOSE 9464
# alive = /healthz answers (readiness, /readyz, is for alerting and orchestrators)
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('STREAMER_METRICS__PORT', '9464'), timeout=4)"]
ENTRYPOINT ["streamer"]
CMD ["run"]
