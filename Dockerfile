# Production image: hypercorn serving the API and the scheduler loop, as a non-root user.
FROM python:3.11-slim

# SHUTDOWN_GRACE_SECONDS: on SIGTERM running workflows get this long to finish, then the rest
# are recorded `cancelled` and the process exits 0. `docker stop` and Compose send SIGKILL 10 s
# after SIGTERM by default (exit 137, workflows cut off mid-step), so the image's default fits:
# 7 s of grace plus ~3 s to record and close. For a longer grace give the container at least the
# grace + 5 s: `docker run --stop-timeout 65 -e SHUTDOWN_GRACE_SECONDS=60 ...`, Compose
# `stop_grace_period: 65s`, Kubernetes `terminationGracePeriodSeconds: 65` (default 30).
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOST=0.0.0.0 \
    PORT=8080 \
    DATABASE_URL=sqlite:///data/workflow_core.sqlite \
    SHUTDOWN_GRACE_SECONDS=7

WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt

COPY workflow_core_module ./workflow_core_module
COPY migrations ./migrations

RUN useradd --system --uid 10001 --home /app app \
    && mkdir -p /data && chown app /data
USER app
VOLUME ["/data"]
EXPOSE 8080

# Readiness, not liveness: /api/v1/health answers 503 when the database does not answer or the
# scheduler loop has stopped (urlopen raises: unhealthy), 200 when healthy or degraded (Redis down).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/api/v1/health' % os.environ.get('PORT', '8080'), timeout=4)"

CMD ["python", "-m", "workflow_core_module", "serve"]
