"""The benchmark: our provider beside node-oidc-provider (`python -m bench`, bench/README.md)."""
