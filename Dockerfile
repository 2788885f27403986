# One image for every service of docker-compose.yml and for the run containers the DockerRunLauncher
# starts (the shape of Dagster's own Docker deployment example). deploy/dagster.yaml is the instance.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DAGSTER_HOME=/opt/dagster/dagster_home \
    JOURNAL_HOME=/opt/dagster/journal

# The commands run from here: `journal-pipeline migrate` finds sql/migrations beside pyproject.toml.
WORKDIR /opt/dagster/app

# Dependencies first, pinned by constraints.txt (with dagster-docker for the run launcher), so that a
# change to the code rebuilds only the last layers.
COPY pyproject.toml constraints.txt README.md ./
RUN mkdir journal_pipeline && touch journal_pipeline/__init__.py \
    && pip install --no-cache-dir -c constraints.txt ".[docker]" \
    && pip uninstall --yes journal-pipeline \
    && rm -rf journal_pipeline build ./*.egg-info

COPY journal_pipeline ./journal_pipeline
COPY sql ./sql
COPY workspace.docker.yaml ./
RUN pip install --no-cache-dir --no-deps . \
    && mkdir -p "$DAGSTER_HOME" "$JOURNAL_HOME/storage" /opt/dagster/compute_logs
COPY deploy/dagster.yaml "$DAGSTER_HOME/dagster.yaml"

EXPOSE 3000 4000 9464
CMD ["dagster", "api", "grpc", "-h", "0.0.0.0", "-p", "4000", "-m", "journal_pipeline.definitions"]
