"""`granian --interface wsgi wsgi:app` (as `make run`) or `gunicorn wsgi:app` serves the provider."""

from idp import create_app

app = create_app()
