// A minimal single-page app on oidc-client-ts, driven by the e2e tests through stable ids.
// It runs on its own origin (http://localhost:<spa port>), so every call it makes to the
// provider's token and userinfo endpoints is a cross-origin fetch that needs CORS.
//
// #status ends in one word the tests wait for: ready, signed-in, refreshed, userinfo-ok,
// signed-out, framed or error (then #error says why). "busy" while something runs.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);

  function setStatus(word) {
    $("status").textContent = word;
  }

  function fail(where, err) {
    const message = err && err.message ? err.message : String(err);
    $("error").textContent = where + ": " + message;
    setStatus("error");
  }

  function show(user) {
    $("claims").textContent = JSON.stringify(user.profile);
    $("access-token").textContent = user.access_token;
    $("has-refresh-token").textContent = user.refresh_token ? "yes" : "no";
  }

  async function loadConfig() {
    const response = await fetch("/config.json", { cache: "no-store" });
    if (!response.ok) {
      throw new Error("config.json: HTTP " + response.status);
    }
    return response.json();
  }

  function userManager(config) {
    return new oidc.UserManager({
      authority: config.issuer,
      client_id: config.client_id,
      redirect_uri: location.origin + "/callback.html",
      post_logout_redirect_uri: location.origin + "/signed-out.html",
      response_type: "code",
      scope: "openid profile email offline_access",
      // Keep acr, amr, auth_time, sid... in the profile: the tests look at them.
      filterProtocolClaims: false,
      loadUserInfo: false,
      automaticSilentRenew: false,
      monitorSession: false,
      userStore: new oidc.WebStorageStateStore({ store: window.sessionStorage }),
    });
  }

  async function callUserinfo(mgr) {
    const user = await mgr.getUser();
    if (!user) {
      throw new Error("not signed in");
    }
    const endpoint = await mgr.metadataService.getUserInfoEndpoint();
    const response = await fetch(endpoint, {
      headers: { Authorization: "Bearer " + user.access_token },
    });
    if (!response.ok) {
      throw new Error("userinfo: HTTP " + response.status);
    }
    $("userinfo").textContent = JSON.stringify(await response.json());
  }

  function bind(id, where, action) {
    $(id).addEventListener("click", async () => {
      $("error").textContent = "";
      setStatus("busy");
      try {
        const word = await action();
        if (word) {
          setStatus(word);
        }
      } catch (err) {
        fail(where, err);
      }
    });
  }

  async function main() {
    const config = await loadConfig();
    const page = location.pathname;

    if (page === "/frame.html") {
      // Try to frame the provider's sign-in page: frame-ancestors 'none' must stop it.
      $("idp-frame").src = config.issuer + "/login";
      setStatus("framed");
      return;
    }

    const mgr = userManager(config);

    if (page === "/callback.html") {
      await mgr.signinRedirectCallback();
      location.replace("/index.html");
      return;
    }

    if (page === "/signed-out.html") {
      // Checks the state the provider must echo back (RP-Initiated Logout §3) against
      // the one stored at sign-out, and shows the data it carried.
      const response = await mgr.signoutRedirectCallback();
      $("signout-state").textContent = JSON.stringify(response.userState === undefined ? null : response.userState);
      setStatus("signed-out");
      return;
    }

    bind("sign-in", "sign-in", async () => {
      await mgr.signinRedirect();
      return null; // the page navigates away
    });
    bind("refresh", "refresh", async () => {
      // With a refresh token in the store, signinSilent uses it (no iframe).
      const user = await mgr.signinSilent();
      show(user);
      return "refreshed";
    });
    bind("call-userinfo", "userinfo", async () => {
      await callUserinfo(mgr);
      return "userinfo-ok";
    });
    bind("sign-out", "sign-out", async () => {
      // With state data, oidc-client-ts sends `state` and expects it back.
      await mgr.signoutRedirect({ state: { from: "e2e-spa" } });
      return null;
    });

    const user = await mgr.getUser();
    if (user) {
      show(user);
      setStatus("signed-in");
    } else {
      setStatus("ready");
    }
  }

  main().catch((err) => fail("start", err));
})();
