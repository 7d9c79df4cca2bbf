"""Bringing people in from another system: `idp users import` (importer.py, reading rows.py)
and, for a system that will not give its hashes away, the legacy verifier (verifier.py)
that checks a password once at the person's first sign-in here."""
