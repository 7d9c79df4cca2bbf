// はなまる経費: sign in (code + PKCE, DPoP-bound tokens in memory), call the API, step up
// when it asks (RFC 9470), renew silently with the refresh token, sign out at the provider.
import { ApiError, StepUpRequired, callApi } from "./api.js";
import { createUserManager, isSigninResponse } from "./auth.js";
import { loadConfig } from "./config.js";
import * as ui from "./ui.js";

function describe(err) {
  if (err instanceof ApiError) {
    return `APIがリクエストを受け付けませんでした (HTTP ${err.status}): ${err.message}`;
  }
  if (err && err.error) {
    return `ログインできませんでした: ${err.error_description || err.error}`; // the provider's ErrorResponse
  }
  return `エラーが発生しました: ${err && err.message ? err.message : err}`;
}

async function approvePayment(mgr, config) {
  try {
    ui.showPayment(await callApi(mgr, config, "POST", "/api/payment"));
    ui.setStatus("payment-ok");
  } catch (err) {
    if (!(err instanceof StepUpRequired)) {
      throw err;
    }
    ui.setStatus("step-up");
    if (!(await ui.askStepUp())) {
      ui.setStatus("signed-in");
      return;
    }
    // Ask the provider again with the API's requirements; it asks only for the factor the
    // sign-in lacks, and the call is retried when the new tokens arrive (see start()).
    await mgr.signinRedirect({ ...err.demand, state: { retry: "payment" } });
  }
}

function home(mgr, config, user) {
  ui.showUser(user);
  ui.showScreen("home");
  ui.setStatus("signed-in");
  let current = user;
  let renewals = 0;
  let leaving = false;
  // Every user loaded after this one is a silent renewal with the refresh token.
  mgr.events.addUserLoaded((renewed) => {
    if (leaving) {
      return;
    }
    // A refreshed ID token may leave out the claims the sign-in asked for (name, email):
    // the person is the same (oidc-client-ts checked sub), so keep showing them.
    renewed.profile = { ...current.profile, ...renewed.profile };
    current = renewed;
    renewals += 1;
    ui.showUser(renewed);
    ui.showRenewal(renewals);
  });
  mgr.events.addSilentRenewError((err) => {
    ui.showError(`セッションを更新できませんでした。もう一度ログインしてください。(${err.message})`);
    ui.setStatus("renew-error");
  });
  // Not mgr.getUser(): each call re-arms the renewal timer, which would then never fire.
  setInterval(() => ui.showExpiry(current), 1000);
  ui.onClick("call-profile", async () => {
    ui.showProfile(await callApi(mgr, config, "GET", "/api/profile"));
    ui.setStatus("profile-ok");
  }, describe);
  ui.onClick("approve-payment", () => approvePayment(mgr, config), describe);
  ui.onClick("sign-out", async () => {
    leaving = true;
    // Revokes the refresh token, forgets the tokens and the DPoP key, then ends the
    // provider's session (RP-Initiated Logout 1.0).
    await mgr.signoutRedirect();
  }, describe);
  if (user.state && user.state.retry === "payment") {
    return approvePayment(mgr, config);
  }
  return undefined;
}

async function start() {
  const config = await loadConfig();
  const mgr = createUserManager(config);

  if (window.location.pathname === "/signed-out.html") {
    // Checks the state the provider echoes (RP-Initiated Logout §3), if any came back.
    await mgr.signoutRedirectCallback().catch(() => undefined);
    ui.onClick("sign-in-again", () => mgr.signinRedirect(), describe);
    ui.setStatus("signed-out");
    return;
  }

  ui.onClick("sign-in", () => mgr.signinRedirect(), describe);
  if (isSigninResponse(window.location.href)) {
    let user;
    try {
      user = await mgr.signinRedirectCallback();
    } finally {
      // The code and state are spent: keep them out of the history and of reloads.
      window.history.replaceState(null, "", "/");
    }
    await home(mgr, config, user);
    return;
  }
  // Nothing survives a reload but the provider's session: signing in again is one
  // redirect without a password while that session lasts.
  ui.showScreen("welcome");
  ui.setStatus("ready");
}

start().catch((err) => {
  ui.showScreen("welcome");
  ui.showError(describe(err));
  ui.setStatus("error");
});
