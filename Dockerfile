# syntax=docker/dockerfile:1
#
# Feedback Mesh image: one image, any target.
#   docker build -t feedbackmesh .
#   docker run --rm feedbackmesh serve feedback
# Settings come from FEEDBACKMESH_* environment variables at run time; no secret is
# baked into the image (see deploy/README.md).

ARG PYTHON_IMAGE=python:3.11.13-slim-bookworm

# ---------------------------------------------------------------- build stage
FROM ${PYTHON_IMAGE} AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

# Compilers only live here, for any dependency without a wheel for this platform.
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*

RUN python -m venv /opt/feedbackmesh
ENV PATH=/opt/feedbackmesh/bin:$PATH

WORKDIR /src
COPY . .
# Install the distribution (not editable) into the venv and pre-compile bytecode, so a
# read-only root filesystem never needs to write .pyc files at run time.
# constraints.txt pins every dependency to the versions CI passed with.
RUN PIP_CONSTRAINT=/src/constraints.txt pip install . \
    && python -m compileall -q /opt/feedbackmesh

# ---------------------------------------------------------------- final stage
FROM ${PYTHON_IMAGE} AS runtime

LABEL org.opencontainers.image.title="feedbackmesh" \
      org.opencontainers.image.description="Feedback Mesh gRPC services" \
      org.opencontainers.image.source="https://example.invalid/feedbackmesh"

ENV PATH=/opt/feedbackmesh/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/home/feedbackmesh \
    FEEDBACKMESH_DATA_DIR=/tmp/feedbackmesh \
    FEEDBACKMESH_LOG_FORMAT=json

# /srv/feedbackmesh/gateway: where `feedbackmesh gateway-config` writes Envoy's config; a
# fresh compose volume mounted there takes this directory's owner, so it is writable.
RUN groupadd --system --gid 10001 feedbackmesh \
    && useradd --system --uid 10001 --gid feedbackmesh --home-dir /home/feedbackmesh \
       --create-home --shell /usr/sbin/nologin feedbackmesh \
    && install -d -o 10001 -g 10001 /srv/feedbackmesh/gateway

# Only the virtualenv crosses over: no compilers, no sources, no pip cache.
COPY --from=build /opt/feedbackmesh /opt/feedbackmesh

USER 10001:10001
WORKDIR /home/feedbackmesh

# gRPC 50051-50054, metrics 9101-9104 (one pair per target; see CONTRIBUTING.md).
EXPOSE 50051 50052 50053 50054 9101 9102 9103 9104

ENTRYPOINT ["feedbackmesh"]
CMD ["serve", "all"]
