"""The OAuth 2.0 / OIDC protocol layer: the only package that imports authlib."""
