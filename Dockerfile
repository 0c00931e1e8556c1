# The LabLedger service. Migrations run at start, then the API and dashboard serve on 8000.

# Browser libraries (charts, API docs pages) from package-lock.json, checked against their integrity.
FROM node:20-slim AS assets
WORKDIR /assets
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund --loglevel=error

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /srv/labledger

COPY pyproject.toml README.md alembic.ini ./
COPY app ./app
COPY devices ./devices
COPY firmware-bridge ./firmware-bridge
COPY --from=assets /assets/node_modules ./node_modules
RUN pip install '.[postgres]' && useradd --system --home /srv/labledger labledger
USER labledger

ENV LABLEDGER_HTTP_HOST=0.0.0.0 LABLEDGER_HTTP_PORT=8000 LABLEDGER_MIGRATE_ON_START=true \
    LABLEDGER_ASSETS_DIR=/srv/labledger/node_modules
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz')"
CMD ["labledger", "serve"]
