// What the person sees. Element ids are stable: the e2e test drives the app by them, and
// `body[data-status]` tells it (and nobody else) what just happened.

const $ = (id) => document.getElementById(id);

const LEVELS = { pwd: "パスワード", mfa: "二要素認証", phr: "セキュリティキー" };
const METHODS = { pwd: "パスワード", otp: "認証アプリ", hwk: "セキュリティキー", fed: "外部アカウント", user: "本人確認", mfa: "多要素" };
const dateTime = new Intl.DateTimeFormat("ja-JP", { dateStyle: "medium", timeStyle: "medium" });

export function setStatus(word) {
  document.body.dataset.status = word;
}

export function showScreen(name) {
  for (const screen of document.querySelectorAll(".screen")) {
    screen.hidden = screen.id !== `screen-${name}`;
  }
}

export function showError(message) {
  const box = $("error");
  box.textContent = message;
  box.hidden = !message;
}

function level(acr) {
  return LEVELS[acr] || acr || "—";
}

function text(id, value) {
  $(id).textContent = value;
}

export function showUser(user) {
  const p = user.profile;
  const name = p.name || p.email || p.sub;
  $("account").hidden = false;
  text("avatar", name.slice(0, 1).toUpperCase());
  text("who", p.email || name);
  text("greeting-name", name);
  text("account-name", p.name || "—");
  text("account-email", p.email || "—");
  const badge = $("account-acr");
  badge.textContent = level(p.acr);
  badge.classList.toggle("strong", p.acr === "mfa" || p.acr === "phr");
  text("account-amr", (p.amr || []).filter((m) => m !== "mfa").map((m) => METHODS[m] || m).join(" + ") || "—");
  text("account-auth-time", p.auth_time ? dateTime.format(new Date(p.auth_time * 1000)) : "—");
  text("claims", JSON.stringify(p, null, 2));
  text("token-type", user.token_type === "DPoP" ? "DPoP (鍵に結び付け)" : user.token_type);
  showExpiry(user);
}

export function showExpiry(user) {
  const seconds = user.expires_in;
  if (seconds === undefined) {
    text("token-expiry", "—");
    return;
  }
  const m = Math.floor(Math.max(seconds, 0) / 60);
  const s = String(Math.max(seconds, 0) % 60).padStart(2, "0");
  text("token-expiry", `あと ${m}:${s}`);
}

export function showRenewal(count) {
  text("renewal-count", String(count));
  text("last-renewal", ` ・ 最終 ${new Date().toLocaleTimeString("ja-JP")}`);
}

export function showProfile(body) {
  text("profile-sub", body.sub || "—");
  text("profile-client", body.client_id || "—");
  text("profile-acr", level(body.acr));
  text("profile-json", JSON.stringify(body, null, 2));
  $("profile-result").hidden = false;
}

export function showPayment(body) {
  text("payment-note", body.acr === "mfa" || body.acr === "phr" ? "二要素認証で確認済みです。" : "");
  text("payment-json", JSON.stringify(body, null, 2));
  $("payment-result").hidden = false;
  $("approve-payment").hidden = true;
}

/** The step-up dialog; resolves true when the person chooses to continue. */
export function askStepUp() {
  const dialog = $("step-up");
  dialog.hidden = false;
  $("step-up-continue").focus();
  return new Promise((resolve) => {
    const done = (answer) => () => {
      dialog.hidden = true;
      resolve(answer);
    };
    $("step-up-continue").addEventListener("click", done(true), { once: true });
    $("step-up-cancel").addEventListener("click", done(false), { once: true });
  });
}

/** Run `action` when `id` is clicked, with the button busy meanwhile and errors shown. */
export function onClick(id, action, describe) {
  const button = $(id);
  button.addEventListener("click", async () => {
    showError("");
    button.disabled = true;
    try {
      await action();
    } catch (err) {
      showError(describe(err));
      setStatus("error");
    } finally {
      button.disabled = false;
    }
  });
}
