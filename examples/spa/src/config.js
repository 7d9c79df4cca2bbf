// Which provider, client and API the app talks to: dist/config.json, read at start so one
// build serves any deployment (and the e2e test serves its own).

const DEFAULTS = {
  // Renew this many seconds before the access token expires (oidc-client-ts's default).
  renew_before_expiry_seconds: 60,
};

export async function loadConfig() {
  const response = await fetch("/config.json", { cache: "no-store" });
  if (!response.ok) {
    throw new Error(`config.json: HTTP ${response.status}`);
  }
  const config = { ...DEFAULTS, ...(await response.json()) };
  for (const name of ["issuer", "client_id", "api"]) {
    if (typeof config[name] !== "string" || !config[name]) {
      throw new Error(`config.json: "${name}" is missing`);
    }
  }
  return config;
}
