# Code-location image for lake_assets: the gRPC code server in the user deployment, and the
# run worker of every run the K8sRunLauncher starts (it replaces CMD with `dagster api
# execute_run ...`, which is why the server is CMD and not ENTRYPOINT).
# Dependencies come from requirements.lock (uv pip compile --generate-hashes of pyproject.toml).

FROM python:3.11.7-slim-bookworm AS build
COPY --from=ghcr.io/astral-sh/uv:0.13.9 /uv /usr/local/bin/uv
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never
WORKDIR /src
RUN uv venv /opt/venv --python /usr/local/bin/python3.11
COPY requirements.lock ./
RUN uv pip install --python /opt/venv/bin/python --require-hashes --no-deps -r requirements.lock
COPY pyproject.toml README.md ./
COPY lake_assets ./lake_assets
RUN uv pip install --python /opt/venv/bin/python --no-deps --no-cache .

FROM python:3.11.7-slim-bookworm
RUN groupadd --system --gid 10001 dagster \
    && useradd --system --uid 10001 --gid dagster --home-dir /opt/dagster --create-home dagster \
    && mkdir -p /opt/dagster/dagster_home \
    && chown -R dagster:dagster /opt/dagster
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    DAGSTER_HOME=/opt/dagster/dagster_home \
    PYTHONUNBUFFERED=1
WORKDIR /opt/dagster
USER 10001:10001
EXPOSE 3030
CMD ["dagster", "code-server", "start", "-h", "0.0.0.0", "-p", "3030", "-m", "lake_assets.definitions"]
