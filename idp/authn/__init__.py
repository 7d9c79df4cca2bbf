"""Who the person is and how strongly they authenticated. No Flask, no authlib."""
