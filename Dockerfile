# One image for the user-code server, the webserver, the daemon and the runs
# (the shape of Dagster's own Docker deployment example).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    DAGSTER_HOME=/opt/dagster/dagster_home \
    JOURNAL_HOME=/opt/dagster/journal

WORKDIR /opt/dagster/app
COPY pyproject.toml constraints.txt README.md ./
COPY journal_pipeline ./journal_pipeline
COPY sql ./sql
COPY docs ./docs
COPY workspace.yaml workspace.docker.yaml ./
RUN pip install --no-cache-dir -c constraints.txt ".[docker]" \
    && mkdir -p "$DAGSTER_HOME" "$JOURNAL_HOME"
COPY deploy/dagster.yaml "$DAGSTER_HOME/dagster.yaml"

EXPOSE 4000 3000
CMD ["dagster", "api", "grpc", "-h", "0.0.0.0", "-p", "4000", "-m", "journal_pipeline.definitions"]
