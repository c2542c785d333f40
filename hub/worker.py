"""Entry point for Celery: ``celery -A hub.worker:celery worker``."""

from hub.app import create_app

app = create_app()
celery = app.extensions["celery"]
