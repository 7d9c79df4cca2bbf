"""`gunicorn wsgi:app` serves the provider."""

from idp import create_app

app = create_app()
