// WebAuthn ceremonies for the hosted pages. Each section carries its endpoints, the CSRF
// token and the flow it belongs to in data- attributes; the server decides everything.
(function () {
  "use strict";

  function flowFields(section) {
    const out = {};
    new URLSearchParams(section.dataset.flow || "").forEach((v, k) => { out[k] = v; });
    return out;
  }

  async function post(section, url, body) {
    const response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": section.dataset.csrf },
      body: JSON.stringify(Object.assign(flowFields(section), body || {})),
    });
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(data.error || "The request failed (" + response.status + ").");
    return data;
  }

  function showError(section, message) {
    const el = section.querySelector("#webauthn-error");
    if (el) { el.textContent = message; el.hidden = false; }
  }

  function finish(data) {
    if (data.redirect) window.location.assign(data.redirect);
  }

  async function authenticate(section) {
    const options = await post(section, section.dataset.optionsUrl);
    const credential = await navigator.credentials.get({
      publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(options),
    });
    finish(await post(section, section.dataset.verifyUrl, { credential: credential.toJSON() }));
  }

  async function register(section) {
    const name = section.querySelector("#webauthn-name");
    const passkey = section.querySelector("#webauthn-passkey");
    const options = await post(section, section.dataset.optionsUrl, {
      name: name ? name.value : "", passkey: passkey ? passkey.checked : false,
    });
    const credential = await navigator.credentials.create({
      publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(options),
    });
    finish(await post(section, section.dataset.verifyUrl, { credential: credential.toJSON() }));
  }

  function bind(sectionId, buttonId, action) {
    const section = document.getElementById(sectionId);
    const button = document.getElementById(buttonId);
    if (!section || !button) return;
    if (!window.PublicKeyCredential) { section.hidden = true; return; }
    button.addEventListener("click", () => {
      button.disabled = true;
      action(section).catch((err) => showError(section, err.message || String(err)))
        .finally(() => { button.disabled = false; });
    });
  }

  bind("passkey-section", "passkey-login", authenticate);
  bind("webauthn-section", "webauthn-authenticate", authenticate);
  bind("webauthn-register-section", "webauthn-register", register);
})();
