// WWW-Authenticate challenges (RFC 6750 §3, RFC 9449 §7.1, RFC 9470 §3).

/** The first challenge of a WWW-Authenticate value: its scheme and parameters. */
export function parseChallenge(header) {
  if (!header) {
    return null;
  }
  const match = /^\s*([A-Za-z][\w-]*)\s*(.*)$/.exec(header);
  if (!match) {
    return null;
  }
  const params = {};
  // auth-param = token "=" ( token / quoted-string ) (RFC 9110 §11.2)
  const param = /([\w-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))\s*,?\s*/gy;
  const rest = match[2];
  let found;
  while ((found = param.exec(rest)) !== null) {
    params[found[1].toLowerCase()] = found[2] !== undefined ? found[2].replace(/\\(.)/g, "$1") : found[3];
  }
  return { scheme: match[1], params };
}

/** RFC 9470 §3: what a new authorization request must ask for, or null. */
export function stepUpDemand(challenge) {
  if (!challenge || challenge.params.error !== "insufficient_user_authentication") {
    return null;
  }
  const demand = {};
  if (challenge.params.acr_values) {
    demand.acr_values = challenge.params.acr_values;
  }
  const maxAge = Number.parseInt(challenge.params.max_age, 10);
  if (Number.isInteger(maxAge) && maxAge >= 0) {
    demand.max_age = maxAge;
  }
  return demand;
}
