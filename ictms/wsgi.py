"""WSGI entry point (gunicorn ictms.wsgi)."""
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ictms.settings")
application = get_wsgi_application()
