// Calls to the example API with the DPoP-bound access token (RFC 9449 §7): the token in
// `Authorization: DPoP …` and a fresh proof of the key over this method, URL and token.
import { parseChallenge, stepUpDemand } from "./challenge.js";

export class StepUpRequired extends Error {
  constructor(demand, description) {
    super(description || "a stronger sign-in is required");
    this.name = "StepUpRequired";
    this.demand = demand;
  }
}

export class ApiError extends Error {
  constructor(status, body, challenge) {
    super((body && body.error_description) || `HTTP ${status}`);
    this.name = "ApiError";
    this.status = status;
    this.body = body;
    this.challenge = challenge;
  }
}

export async function callApi(mgr, config, method, path) {
  const user = await mgr.getUser();
  if (!user || user.expired) {
    throw new ApiError(401, { error_description: "not signed in" }, null);
  }
  const url = new URL(path, config.api).href;
  // The proof's htu is the URL without query or fragment (RFC 9449 §4.2).
  const htu = url.split(/[?#]/)[0];
  const proof = await mgr.dpopProof(htu, user, method);
  const response = await fetch(url, {
    method,
    headers: {
      Accept: "application/json",
      Authorization: `${user.token_type === "DPoP" ? "DPoP" : "Bearer"} ${user.access_token}`,
      ...(proof ? { DPoP: proof } : {}),
    },
  });
  const body = await response.json().catch(() => null);
  if (response.ok) {
    return body;
  }
  const challenge = parseChallenge(response.headers.get("WWW-Authenticate"));
  const demand = response.status === 401 ? stepUpDemand(challenge) : null;
  if (demand) {
    throw new StepUpRequired(demand, challenge.params.error_description);
  }
  throw new ApiError(response.status, body, challenge);
}
