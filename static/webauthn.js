// WebAuthn ceremonies for the hosted pages. Each section carries its endpoints, the CSRF
// token and the flow it belongs to in data- attributes; the server decides everything.
// The sentences shown to the person come translated from the page (#webauthn-messages).
(function () {
  "use strict";

  const messages = (document.getElementById("webauthn-messages") || { dataset: {} }).dataset;
  const pageLanguage = document.documentElement.lang || "en";

  function say(key) {
    return messages[key] || messages.failed || "Something went wrong. Try again.";
  }

  // A server answer that already says what went wrong, in the page's language.
  class ServerRefusal extends Error {}

  function flowFields(section) {
    const out = {};
    new URLSearchParams(section.dataset.flow || "").forEach((v, k) => { out[k] = v; });
    return out;
  }

  async function post(section, url, body) {
    let response;
    try {
      response = await fetch(url, {
        method: "POST",
        credentials: "same-origin",
        headers: {
          "Content-Type": "application/json", "X-CSRFToken": section.dataset.csrf, "X-Page-Language": pageLanguage,
        },
        body: JSON.stringify(Object.assign(flowFields(section), body || {})),
      });
    } catch (err) {
      throw new ServerRefusal(say("network"));
    }
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw new ServerRefusal(data.error || say("failed"));
    return data;
  }

  // --- base64url and the JSON forms of WebAuthn Level 3, for browsers without
  // PublicKeyCredential.parse*OptionsFromJSON or PublicKeyCredential.prototype.toJSON.

  function fromBase64url(text) {
    const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    const binary = atob(base64 + "===".slice((base64.length + 3) % 4));
    return Uint8Array.from(binary, (c) => c.charCodeAt(0)).buffer;
  }

  function toBase64url(buffer) {
    if (!buffer) return undefined;
    const bytes = new Uint8Array(buffer);
    let binary = "";
    for (let i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i]);
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function withIds(list) {
    return (list || []).map((c) => Object.assign({}, c, { id: fromBase64url(c.id) }));
  }

  function creationOptions(json) {
    if (typeof PublicKeyCredential.parseCreationOptionsFromJSON === "function") {
      return PublicKeyCredential.parseCreationOptionsFromJSON(json);
    }
    return Object.assign({}, json, {
      challenge: fromBase64url(json.challenge),
      user: Object.assign({}, json.user, { id: fromBase64url(json.user.id) }),
      excludeCredentials: withIds(json.excludeCredentials),
    });
  }

  function requestOptions(json) {
    if (typeof PublicKeyCredential.parseRequestOptionsFromJSON === "function") {
      return PublicKeyCredential.parseRequestOptionsFromJSON(json);
    }
    return Object.assign({}, json, {
      challenge: fromBase64url(json.challenge),
      allowCredentials: withIds(json.allowCredentials),
    });
  }

  function credentialJSON(credential) {
    if (typeof credential.toJSON === "function") return credential.toJSON();
    const r = credential.response;
    const response = { clientDataJSON: toBase64url(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = toBase64url(r.attestationObject);
      response.transports = typeof r.getTransports === "function" ? r.getTransports() : [];
    } else {
      response.authenticatorData = toBase64url(r.authenticatorData);
      response.signature = toBase64url(r.signature);
      response.userHandle = toBase64url(r.userHandle);
    }
    return {
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      authenticatorAttachment: credential.authenticatorAttachment || undefined,
      clientExtensionResults: credential.getClientExtensionResults ? credential.getClientExtensionResults() : {},
      response: response,
    };
  }

  // --- what the browser's errors mean to the person ---------------------------------------

  function explain(err, ceremony) {
    if (err instanceof ServerRefusal) return err.message;
    switch (err && err.name) {
      case "NotAllowedError": return say("notAllowed");      // cancelled, timed out, or no key
      case "SecurityError": return say("invalidDomain");      // the page's origin is not the RP ID's
      case "InvalidStateError": return say(ceremony === "create" ? "alreadyRegistered" : "failed");
      case "NotSupportedError": return say("notSupported");
      case "AbortError": return say("aborted");
      case "ConstraintError": return say("notSupported");
      default: return say("failed");
    }
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
    const credential = await navigator.credentials.get({ publicKey: requestOptions(options) });
    finish(await post(section, section.dataset.verifyUrl, { credential: credentialJSON(credential) }));
  }

  async function register(section) {
    const name = section.querySelector("#webauthn-name");
    const passkey = section.querySelector("#webauthn-passkey");
    const options = await post(section, section.dataset.optionsUrl, {
      name: name ? name.value : "", passkey: passkey ? passkey.checked : false,
    });
    const credential = await navigator.credentials.create({ publicKey: creationOptions(options) });
    finish(await post(section, section.dataset.verifyUrl, { credential: credentialJSON(credential) }));
  }

  function bind(sectionId, buttonId, action, ceremony) {
    const section = document.getElementById(sectionId);
    const button = document.getElementById(buttonId);
    if (!section || !button) return;
    if (!window.PublicKeyCredential || !navigator.credentials) {
      // Passkey sign-in is one way among others: without WebAuthn it is simply not offered.
      if (ceremony === "get" && sectionId === "passkey-section") { section.hidden = true; return; }
      button.disabled = true;
      showError(section, say("unsupported"));
      return;
    }
    button.addEventListener("click", () => {
      button.disabled = true;
      section.querySelectorAll("#webauthn-error").forEach((el) => { el.hidden = true; });
      action(section).catch((err) => showError(section, explain(err, ceremony)))
        .finally(() => { button.disabled = false; });
    });
  }

  bind("passkey-section", "passkey-login", authenticate, "get");
  bind("webauthn-section", "webauthn-authenticate", authenticate, "get");
  bind("webauthn-register-section", "webauthn-register", register, "create");
})();
