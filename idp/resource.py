"""The resource-server helper, kept importable under its old name: it lives in the
`idp_resource` package (resource/), which installs on its own."""

from idp_resource import *  # noqa: F403
from idp_resource import __all__  # noqa: F401
