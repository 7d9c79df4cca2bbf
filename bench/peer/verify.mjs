// How many of our access tokens npm's `jose` verifies per second, as a resource server
// would (RFC 9068 §4: signature, typ, iss, aud, exp), on one thread.
//
//   node verify.mjs < job.json    job: {tokens, jwks, issuer, audience, seconds}
// prints {"verified": n, "seconds": s, "per_second": r}
import { readFileSync } from 'node:fs';

import { createLocalJWKSet, jwtVerify } from 'jose';

const job = JSON.parse(readFileSync(0, 'utf8'));
const keys = createLocalJWKSet(job.jwks);
const options = { issuer: job.issuer, audience: job.audience, typ: 'at+jwt', algorithms: ['RS256', 'ES256', 'EdDSA'] };

let verified = 0;
const started = process.hrtime.bigint();
const deadline = started + BigInt(Math.round(job.seconds * 1e9));
while (process.hrtime.bigint() < deadline) {
  for (const token of job.tokens) {
    await jwtVerify(token, keys, options);
    verified += 1;
  }
}
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
console.log(JSON.stringify({ verified, seconds, per_second: verified / seconds }));
