// Threat: replaying a one-time secret at a second site while the sites are cut off from each
// other. An attacker who phished a TOTP code or copied a recovery code uses it at the site the
// victim is not using, during a partition, and keeps the session after the sites exchange. NIST
// SP 800-63B rev 4 (3.1.4 / 3.1.5, OTP authenticators: a code is accepted once; 3.1.2 look-up
// secrets: used once) cannot be met during a partition by any system that keeps taking logins at
// both sites; authlog meets it as soon as they exchange: the later use (HLC order, which every
// node agrees on) has its session ended on every node, and the pair is listed as a conflict.
// Two real node processes, their replication links through cuttable proxies; codes from oathtool
// (or the otplib fallback, test/support/oathtool.ts).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import {
  type Cluster,
  clusterApi,
  converged,
  replicationStatus,
  startCluster,
} from '../../scripts/cluster.ts';
import { awayFromStepEdge, oathTotp } from '../support/oathtool.ts';
import { type LinkProxy, proxiedLinks } from '../support/proxy.ts';

const PASSWORD = 'two sites share this password';
const SEED = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';

describe('a one-time secret used at two cut-off sites counts once after they exchange', () => {
  let cluster: Cluster;
  const links = new Map<string, LinkProxy>();
  let ann = '';
  let codes: string[] = [];
  before(async () => {
    // Every site opens the OTP seeds with the same key (docs/architecture.md).
    const env = { AUTHLOG_TOTP_KEYS: `k1:${randomBytes(32).toString('base64')}` };
    cluster = await startCluster({ size: 2, link: proxiedLinks(links), env });
    const [n0] = cluster.nodes;
    const op = (method: string, path: string, body?: object) =>
      clusterApi(n0!.url, n0!.token, method, path, body);
    ann = String(
      (await op('POST', '/v1/principals', { briefName: 'Ann', identity: { name: 'ann' } }))
        .principalId,
    );
    await op('PUT', `/v1/principals/${ann}/password`, { password: PASSWORD });
    const otp = await op('POST', `/v1/principals/${ann}/otp`, { name: 'phone', secret: SEED });
    await awayFromStepEdge();
    await op('POST', `/v1/credentials/${String(otp.credentialId)}/confirm`, {
      code: oathTotp(SEED, Date.now()),
    });
    codes = (await op('POST', `/v1/principals/${ann}/recovery-codes`)).codes as string[];
    await op('PUT', `/v1/auth/policies/principal/${ann}`, {
      require: ['knowledge', 'ownership'],
      elevate: [],
    });
    await converged(cluster);
  });
  after(async () => {
    await cluster?.stopAll();
    for (const l of links.values()) await l.close();
    cluster?.remove();
  });

  const login = async (i: number, second: Record<string, string>) => {
    const r = await fetch(`${cluster.nodes[i]!.url}/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ identity: 'ann', password: PASSWORD, transport: 'bearer', ...second }),
    });
    const body = (await r.json()) as Record<string, unknown>;
    assert.equal(r.status, 200, JSON.stringify(body));
    assert.equal(body.complete, true);
    return { token: String(body.token), sessionId: String(body.sessionId) };
  };
  const sessionStatus = async (i: number, token: string) =>
    (
      await fetch(`${cluster.nodes[i]!.url}/v1/auth/session`, {
        headers: { authorization: `Bearer ${token}` },
      })
    ).status;

  it('the later of two uses loses its session everywhere; both sites list the pair', async () => {
    for (const l of links.values()) l.cut();
    // One TOTP code at both sites, then one recovery code at both, site 0 first each time (so
    // site 1's use is the later one in HLC order: both sites run on this machine's clock).
    // The next time step's code (the current one confirmed the credential; one step of drift is
    // accepted, RFC 6238 5.2).
    await awayFromStepEdge(8000);
    const code = oathTotp(SEED, Date.now() + 30_000);
    const otpFirst = await login(0, { otp: code });
    await new Promise((r) => setTimeout(r, 20));
    const otpLater = await login(1, { otp: code });
    const recFirst = await login(0, { recoveryCode: codes[0]! });
    await new Promise((r) => setTimeout(r, 20));
    const recLater = await login(1, { recoveryCode: codes[0]! });
    // Cut off, each site believes its own session.
    assert.equal(await sessionStatus(1, otpLater.token), 200);
    assert.equal(await sessionStatus(1, recLater.token), 200);

    for (const l of links.values()) l.heal();
    const statuses = await converged(cluster);
    assert.equal(new Set(statuses.map((s) => s.digest)).size, 1, 'digests differ');

    for (const i of [0, 1]) {
      assert.equal(await sessionStatus(i, otpFirst.token), 200, `site ${i}: first OTP use`);
      assert.equal(await sessionStatus(i, recFirst.token), 200, `site ${i}: first code use`);
      assert.equal(await sessionStatus(i, otpLater.token), 401, `site ${i}: later OTP use`);
      assert.equal(await sessionStatus(i, recLater.token), 401, `site ${i}: later code use`);
      const n = cluster.nodes[i]!;
      const conflicts = (await clusterApi(n.url, n.token, 'GET', '/v1/conflicts')).items as {
        kind: string;
        detail: string;
      }[];
      const singleUse = conflicts.filter((c) => c.kind === 'single-use');
      assert.equal(singleUse.length, 2, JSON.stringify(conflicts));
      assert.ok(singleUse.some((c) => c.detail.includes(otpLater.sessionId)));
      assert.ok(singleUse.some((c) => c.detail.includes(recLater.sessionId)));
      const working = (
        (await clusterApi(n.url, n.token, 'GET', `/v1/principals/${ann}/sessions`)).items as {
          sessionId: string;
        }[]
      ).map((x) => x.sessionId);
      assert.ok(working.includes(otpFirst.sessionId) && working.includes(recFirst.sessionId));
      assert.ok(!working.includes(otpLater.sessionId) && !working.includes(recLater.sessionId));
    }
    // The code is spent everywhere, and the count says so.
    const n1 = cluster.nodes[1]!;
    const left = await clusterApi(n1.url, n1.token, 'GET', `/v1/principals/${ann}/recovery-codes`);
    assert.equal(left.remaining, 9);
    assert.ok((await replicationStatus(n1)).conflicts >= 2);
  });
});
