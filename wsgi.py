"""`granian --interface wsgi wsgi:app` (as `make run`) or `gunicorn wsgi:app` serves the provider."""

from config import Config
from idp import metrics_dir

# Before anything imports prometheus-client: each worker must find its server's metric
# directory (idp/metrics_dir.py says why it is chosen here).
metrics_dir.prepare(Config.instance_path())

from idp import create_app  # noqa: E402

app = create_app()
