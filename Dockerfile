# OpenROI production image: one image for web (gunicorn), worker (celery worker), beat (celery beat) and the one-shot
# migrate service; docker-compose.yml shows the topology. Configured only through environment variables
# (docs/running.md). Build: docker build -t openroi .
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    STATIC_ROOT=/app/staticfiles \
    MEDIA_ROOT=/app/var/media

# WeasyPrint's native libraries (letters, invoices, release packets) and a base font.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b libfontconfig1 fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 roi \
    && useradd --system --uid 10001 --gid roi --home-dir /app --no-create-home --shell /usr/sbin/nologin roi

WORKDIR /app

# Dependencies first, so a code change does not reinstall them.
COPY requirements.lock ./
RUN pip install -r requirements.lock

COPY . .

# Static files are baked into the image (served by WhiteNoise), so every web container has the same manifest.
# Settings need these variables to import; nothing connects to the placeholder servers during collectstatic.
RUN SECRET_KEY=build-time-placeholder-not-used-at-runtime-0000 \
    DATABASE_URL=postgres://build@localhost/build \
    REDIS_URL=redis://localhost:6379/0 \
    python manage.py collectstatic --noinput \
    && mkdir -p /app/var/media \
    && chown -R roi:roi /app/var

USER roi
EXPOSE 8000

# The web process; compose overrides the command for migrate, worker and beat. The access log names the path only,
# as in docker-compose.yml: gunicorn's default line carries the query string, where a search holds a patient's name.
CMD ["gunicorn", "roi.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "4", \
     "--worker-tmp-dir", "/dev/shm", "--timeout", "60", "--access-logfile", "-", \
     "--access-logformat", "%(h)s %(t)s \"%(m)s %(U)s %(H)s\" %(s)s %(B)s %(M)sms"]
