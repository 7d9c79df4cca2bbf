// A storage adapter for node-oidc-provider over Redis (the interface of the provider's
// example/my_adapter.js), so that the processes of a cluster share sessions, codes, tokens
// and grants. Written for the benchmark; each operation is one round trip.
//
// Every model instance is a hash: `payload` (JSON) and, once used, `consumed`. Models that
// belong to a grant are also listed in a set per grant, for revokeByGrantId.
import Redis from 'ioredis';

const GRANT_MEMBERS = new Set([
  'AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode',
  'BackchannelAuthenticationRequest', 'PreAuthorizedCode',
]);

export function redisAdapterFactory(url) {
  const client = new Redis(url, { lazyConnect: false, enableAutoPipelining: true });

  const key = (model, id) => `oidc:${model}:${id}`;
  const grantKey = (grantId) => `oidc:grant:${grantId}`;

  return class RedisAdapter {
    constructor(name) {
      this.name = name;
    }

    async upsert(id, payload, expiresIn) {
      const k = key(this.name, id);
      const multi = client.multi().del(k).hset(k, 'payload', JSON.stringify(payload));
      if (expiresIn) multi.expire(k, expiresIn);
      if (GRANT_MEMBERS.has(this.name) && payload.grantId) {
        const g = grantKey(payload.grantId);
        multi.sadd(g, k);
        if (expiresIn) multi.expire(g, expiresIn);
      }
      if (payload.userCode) {
        multi.set(key('userCode', payload.userCode), id, 'EX', expiresIn);
      }
      if (this.name === 'Session' && payload.uid) {
        multi.set(key('sessionUid', payload.uid), id, 'EX', expiresIn);
      }
      await multi.exec();
    }

    async find(id) {
      const [payload, consumed] = await client.hmget(key(this.name, id), 'payload', 'consumed');
      if (!payload) return undefined;
      const data = JSON.parse(payload);
      return consumed ? { ...data, consumed: Number(consumed) } : data;
    }

    async findByUid(uid) {
      const id = await client.get(key('sessionUid', uid));
      return id ? this.find(id) : undefined;
    }

    async findByUserCode(userCode) {
      const id = await client.get(key('userCode', userCode));
      return id ? this.find(id) : undefined;
    }

    async consume(id) {
      await client.hset(key(this.name, id), 'consumed', Math.floor(Date.now() / 1000));
    }

    async destroy(id) {
      await client.del(key(this.name, id));
    }

    async revokeByGrantId(grantId) {
      const g = grantKey(grantId);
      const members = await client.smembers(g);
      await client.del(...members, g);
    }
  };
}
