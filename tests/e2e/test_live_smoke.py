import json
import urllib.request


def test_live_server_serves_discovery(live_server):
    with urllib.request.urlopen(live_server.url + "/.well-known/openid-configuration") as r:
        doc = json.load(r)
    assert doc["issuer"] == live_server.url
    created = live_server.create_client(public=True, redirect_uri="http://localhost:9999/cb")
    assert "client_secret" not in created
