// The UserManager: code flow with PKCE, DPoP-bound tokens, tokens in memory only.
import {
  IndexedDbDPoPStore,
  InMemoryWebStorage,
  Log,
  UserManager,
  WebStorageStateStore,
} from "oidc-client-ts";

export function createUserManager(config) {
  if (config.debug) {
    Log.setLogger(console);
    Log.setLevel(Log.DEBUG);
  }
  const origin = window.location.origin;
  return new UserManager({
    authority: config.issuer,
    client_id: config.client_id,
    redirect_uri: `${origin}/`,
    post_logout_redirect_uri: `${origin}/signed-out.html`,
    response_type: "code", // PKCE (S256) is oidc-client-ts's default
    scope: "openid profile email offline_access",
    ui_locales: "ja", // the provider's pages in the app's language (OIDC Core §3.1.2.1)
    // The access and refresh tokens live in this tab's memory: script injected into the
    // page cannot read them back from localStorage or sessionStorage (docs/recipes/spa.md).
    userStore: new WebStorageStateStore({ store: new InMemoryWebStorage() }),
    // Only the sign-in round trip's state (PKCE verifier, nonce) must survive the redirect;
    // it is used once and holds no token.
    stateStore: new WebStorageStateStore({ store: window.sessionStorage }),
    // RFC 9449: a non-extractable P-256 key in IndexedDB signs a proof for every token
    // request, so the tokens are bound to a key that script cannot export; the code too
    // (dpop_jkt, §10), so an intercepted code is useless without the key.
    dpop: { store: new IndexedDbDPoPStore(), bind_authorization_code: true },
    // The refresh token renews the access token before it expires (no iframe).
    automaticSilentRenew: true,
    accessTokenExpiringNotificationTimeInSeconds: config.renew_before_expiry_seconds,
    // acr, amr, auth_time and sid are what the account card shows.
    filterProtocolClaims: false,
    // The name and email in the ID token (OIDC Core §5.5): oidc-client-ts sends no DPoP
    // proof to userinfo, which a DPoP-bound token needs there.
    extraQueryParams: { claims: JSON.stringify({ id_token: { name: null, email: null } }) },
    loadUserInfo: false,
    monitorSession: false,
    revokeTokenTypes: ["refresh_token"],
    revokeTokensOnSignout: true,
  });
}

/** Is this page load the provider's answer to a sign-in (code or error, with state)? */
export function isSigninResponse(url) {
  const params = new URL(url).searchParams;
  return params.has("state") && (params.has("code") || params.has("error"));
}
