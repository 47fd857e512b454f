# dropbox-streamer: the `streamer` command in a slim, non-root image, its dependencies installed
# from the lock (requirements/runtime.txt: exact versions, every file checked by sha256).
#
#   docker build -t dropbox-streamer .          (podman build --format docker: keeps HEALTHCHECK)
#   docker run --rm dropbox-streamer --help
#   scripts/lock --sbom dropbox-streamer.cdx.json   the image's SBOM (CycloneDX, from uv.lock)
#
# Build arguments:
#   PYTHON_IMAGE    the base image, Python 3.11 with `python` on PATH (default python:3.11-slim;
#                   a mirror of it behind a corporate registry works the same)
#   PIP_INDEX_URL   a private package index (a PyPI mirror or proxy) for the dependencies; the
#                   hashes in the lock still have to match. Used in the build stage only, so
#                   credentials in the URL do not reach the image
#   EXTRA_CA_CERTS  PEM text of extra CA certificates (a TLS-inspecting proxy's), trusted by pip
#                   during the build and by the streamer at run time:
#                   --build-arg EXTRA_CA_CERTS="$(cat corp-ca.pem)"
#
# The default command is `streamer run` with the configuration at $STREAMER_CONFIG
# (config/compose.toml, copied in below; mount your own over /etc/streamer). Secrets come from
# the environment or from files: STREAMER_TEAMS__<TEAM>__APP_SECRET_FILE=/run/secrets/... .
# The streamer keeps its state in Kafka (a compacted topic), so it needs no volume.
ARG PYTHON_IMAGE=python:3.11-slim

# --- build: a virtualenv with the locked dependencies and the project's wheel ---------------
FROM ${PYTHON_IMAGE} AS build
ARG PIP_INDEX_URL=https://pypi.org/simple
ARG EXTRA_CA_CERTS=
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PIP_ROOT_USER_ACTION=ignore \
    PIP_INDEX_URL=${PIP_INDEX_URL} \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
    PIP_CERT=/etc/ssl/certs/ca-certificates.crt
# the same step as in the run stage below: OpenSSL (and pip, via PIP_CERT) read the system bundle
RUN if [ -n "$EXTRA_CA_CERTS" ]; then \
      printf '%s\n' "$EXTRA_CA_CERTS" >/usr/local/share/ca-certificates/extra-ca.crt \
      && update-ca-certificates; \
    fi
WORKDIR /src
COPY requirements ./requirements
# --no-deps: the lock lists every package; --require-hashes: a file that differs fails the build
RUN python -m venv /opt/streamer \
    && /opt/streamer/bin/pip install --require-hashes --no-deps -r requirements/runtime.txt
COPY pyproject.toml README.md ./
COPY streamer ./streamer
# the wheel is built by the locked hatchling (requirements/build.txt), in a throwaway venv;
# pip and setuptools (which venv adds) leave the runtime venv: nothing in it is unlisted in the lock
RUN python -m venv /opt/build \
    && /opt/build/bin/pip install --require-hashes --no-deps -r requirements/build.txt \
    && /opt/build/bin/pip wheel --no-deps --no-build-isolation --wheel-dir /wheels . \
    && /opt/streamer/bin/pip install --no-deps /wheels/*.whl \
    && /opt/streamer/bin/python -m pip uninstall --quiet --yes pip setuptools

# --- run ------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE}
ARG EXTRA_CA_CERTS=
RUN if [ -n "$EXTRA_CA_CERTS" ]; then \
      printf '%s\n' "$EXTRA_CA_CERTS" >/usr/local/share/ca-certificates/extra-ca.crt \
      && update-ca-certificates; \
    fi \
    && groupadd --system --gid 10001 streamer \
    && useradd --system --uid 10001 --gid streamer --no-create-home --shell /usr/sbin/nologin \
      streamer
COPY --from=build /opt/streamer /opt/streamer
COPY config /etc/streamer
ENV PATH=/opt/streamer/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
    STREAMER_CONFIG=/etc/streamer/compose.toml \
    STREAMER_METRICS__HOST=0.0.0.0 \
    STREAMER_METRICS__PORT=9464
# numeric, so Kubernetes' runAsNonRoot can verify it without looking up /etc/passwd
USER 10001:10001
EXPOSE 9464
# alive = /healthz answers (readiness, /readyz, is for alerting and orchestrators)
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('STREAMER_METRICS__PORT', '9464'), timeout=4)"]
ENTRYPOINT ["streamer"]
CMD ["run"]
