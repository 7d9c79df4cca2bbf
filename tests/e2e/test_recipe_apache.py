"""docs/recipes/mod_auth_openidc.conf against a live provider: real Apache (Debian's
apache2 and libapache2-mod-auth-openidc, installed by .ci/run) on a loopback port with a
config of its own. A sign-in to a protected page shows the claims; six parallel requests
that all refresh with one token leave the session working; sign-out goes through the
end-session endpoint and the next visit asks for the password again."""

from __future__ import annotations

import secrets
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests import live
from tests.interop.oidc_http import Browser

pytestmark = pytest.mark.e2e

APACHE = Path("/usr/sbin/apache2")
MODULES = Path("/usr/lib/apache2/modules")
RECIPE = live.ROOT / "docs" / "recipes" / "mod_auth_openidc.conf"

PAGE = """<!doctype html><title>Protected</title>
<p id="email"><!--#echo var="OIDC_CLAIM_email" --></p>
<p id="name"><!--#echo var="OIDC_CLAIM_name" --></p>
<p id="acr"><!--#echo var="OIDC_CLAIM_acr" --></p>
"""


def _config(tmp: Path, port: int, issuer: str, client: dict) -> Path:
    app_url = f"http://localhost:{port}"
    (tmp / "htdocs" / "protected").mkdir(parents=True)
    (tmp / "htdocs" / "protected" / "index.shtml").write_text(PAGE)
    (tmp / "htdocs" / "loggedout.html").write_text("<!doctype html><p id='bye'>Signed out of the app</p>")
    modules = "\n".join(f"LoadModule {name}_module {MODULES}/mod_{name}.so" for name in (
        "mpm_event", "authz_core", "authz_user", "authn_core", "include", "mime", "dir", "env", "setenvif"))
    conf = tmp / "apache.conf"
    conf.write_text(f"""
{modules}
ServerName localhost
ServerRoot {tmp}
Listen 127.0.0.1:{port}
PidFile {tmp}/apache.pid
DefaultRuntimeDir {tmp}
Mutex file:{tmp} default
ErrorLog {tmp}/error.log
LogLevel warn
User nobody
Group nogroup
StartServers 3
ServerLimit 3
ThreadsPerChild 4
MaxRequestWorkers 12
TypesConfig /etc/mime.types
DocumentRoot {tmp}/htdocs
<Directory />
    AllowOverride None
    Require all denied
</Directory>
<Directory {tmp}/htdocs>
    AllowOverride None
    Options +Includes
    Require all granted
</Directory>
AddType text/html .shtml
AddOutputFilter INCLUDES .shtml
DirectoryIndex index.shtml index.html

Define IDP_ISSUER {issuer}
Define APP_URL {app_url}
Define OIDC_CLIENT_ID {client["client_id"]}
Define OIDC_CLIENT_SECRET {client["client_secret"]}
Define OIDC_CRYPTO_PASSPHRASE {secrets.token_urlsafe(32)}
# Every request refreshes: the access token lives 300 s, refreshed 3600 s before expiry.
Define OIDC_REFRESH_BEFORE_EXPIRY 3600
Include {RECIPE}
""")
    return conf


@pytest.fixture
def apache(live_server):
    if not APACHE.exists() or not (MODULES / "mod_auth_openidc.so").exists():
        pytest.skip("apache2 and libapache2-mod-auth-openidc are not installed (.ci/run installs them)")
    port = live.free_port()
    app_url = f"http://localhost:{port}"
    client = live_server.create_client(public=False, redirect_uri=f"{app_url}/redirect_uri",
                                       post_logout_redirect_uri=f"{app_url}/loggedout.html", pkce="optional")
    # Apache's workers run as nobody: a directory of their own, outside pytest's 0700 tree.
    tmp = Path(tempfile.mkdtemp(prefix="idp-apache-"))
    conf = _config(tmp, port, live_server.url, client)
    for path in (tmp, *tmp.rglob("*")):
        shutil.chown(path, "nobody", "nogroup")
    process = subprocess.Popen([str(APACHE), "-f", str(conf), "-DFOREGROUND"], stdout=subprocess.DEVNULL,
                               stderr=open(tmp / "stderr.log", "w"))
    try:
        _wait_until_listening(port, process, tmp)
        yield app_url
    finally:
        live.terminate(process)
        shutil.rmtree(tmp, ignore_errors=True)


def _wait_until_listening(port: int, process: subprocess.Popen, tmp: Path) -> None:
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                logs = "".join(f.read_text() for f in (tmp / "stderr.log", tmp / "error.log") if f.exists())
                raise RuntimeError("apache did not start:\n" + logs) from None
            time.sleep(0.1)


def test_apache_signs_in_refreshes_in_parallel_and_signs_out(live_server, apache):
    email = f"apache-{secrets.token_hex(4)}@example.com"
    password = "apache " + secrets.token_urlsafe(16)
    live_server.create_user(email, password)
    browser = Browser()
    protected = f"{apache}/protected/"

    # A full sign-in through the hosted pages, back to the protected page with the claims.
    browser.navigate(protected, protected, email, password)
    page = browser.get(protected)
    assert page.status == 200 and f'<p id="email">{email}</p>' in page.text, page.text
    assert '<p id="acr">pwd</p>' in page.text

    # Six parallel requests, each refreshing, several with the same refresh token. Without
    # the grace window the second use revoked the grant and, with logout_on_error, ended
    # the app's session (measured: this test fails with --refresh-grace-seconds 0). With
    # it, all get the page, and the session keeps working (and refreshing) afterwards.
    barrier = threading.Barrier(6)

    def visit(_):
        barrier.wait()
        return browser.get(protected)

    with ThreadPoolExecutor(6) as pool:
        pages = list(pool.map(visit, range(6)))
    assert [p.status for p in pages] == [200] * 6, [p.text[:200] for p in pages]
    assert all(email in p.text for p in pages)
    for _ in range(3):
        again = browser.get(protected)
        assert again.status == 200 and email in again.text, again.text[:500]

    # Sign-out through the end-session endpoint, back to the app.
    landed = browser.navigate(f"{apache}/redirect_uri?logout={apache}/loggedout.html", f"{apache}/loggedout.html")
    assert landed.startswith(f"{apache}/loggedout.html")
    seen = browser.login_pages_seen
    browser.navigate(protected, protected, email, password)
    assert browser.login_pages_seen == seen + 1  # the password is asked again
