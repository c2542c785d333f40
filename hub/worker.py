"""Entry point for Celery: ``celery -A hub.worker:celery worker``."""

from channels import registry
from hub.app import create_app

app = create_app()
celery = app.extensions["celery"]
# Here, in the parent: the prefork children inherit the imported SDKs instead of each importing them.
registry.preload()
