"""Who the person is and how strongly: acr arithmetic, login policy, the next step, and the
sign-in use-cases (password, second factor, security key or passkey), each returning an
outcome (outcomes.py) that a view renders. No Flask request or session, no authlib."""
