# ICTMS application image: used by the web (gunicorn) and worker (celery) services.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 ICTMS_VAR_DIR=/var/lib/ictms
RUN apt-get update && apt-get install -y --no-install-recommends libpq5 && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 1000 ictms && mkdir -p /var/lib/ictms && chown ictms /var/lib/ictms
WORKDIR /app
COPY pyproject.toml README.md ./
RUN pip install --no-cache-dir -e . 2>/dev/null || true
COPY . .
RUN pip install --no-cache-dir -e . \
    && DEBUG=0 SECRET_KEY=build-only ICTMS_STATIC_ROOT=/app/staticfiles python manage.py collectstatic --noinput
ENV ICTMS_STATIC_ROOT=/app/staticfiles
USER ictms
EXPOSE 8000
CMD ["gunicorn", "ictms.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--timeout", "300"]
