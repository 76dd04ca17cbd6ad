// The check API and role administration over HTTP (inject), with the same semantics as the
// in-process engine: allow/deny with the reason, batch, objects, and typed refusals.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { auth, startApp } from '../support/app.ts';

describe('authorization over HTTP', () => {
  let ctx: Awaited<ReturnType<typeof startApp>>;
  const call = async (
    method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
    url: string,
    payload?: object,
  ) => {
    const r = await ctx.app.inject({ method, url, headers: auth, ...(payload ? { payload } : {}) });
    return { status: r.statusCode, body: r.json() };
  };
  before(async () => {
    ctx = await startApp('authz-http');
    assert.equal(
      (await call('POST', '/v1/principals', { principalId: 'ann', briefName: 'Ann' })).status,
      201,
    );
    assert.equal(
      (await call('POST', '/v1/resource-types', { resourceType: 'invoice' })).status,
      200,
    );
    assert.equal((await call('POST', '/v1/privileges', { privilege: 'report.read' })).status, 200);
    assert.equal((await call('POST', '/v1/roles', { roleId: 'base', name: 'base' })).status, 201);
    assert.equal(
      (await call('POST', '/v1/roles', { roleId: 'clerk', name: 'clerk', parentId: 'base' }))
        .status,
      201,
    );
    assert.equal(
      (await call('PUT', '/v1/roles/base/grants', { privilege: 'report.read', effect: 'grant' }))
        .status,
      200,
    );
    assert.equal(
      (
        await call('PUT', '/v1/roles/clerk/grants', {
          resourceType: 'invoice',
          action: 'update',
          objectId: 'i-7',
          effect: 'grant',
        })
      ).status,
      200,
    );
    assert.equal(
      (await call('POST', '/v1/roles/clerk/members', { principalId: 'ann' })).status,
      200,
    );
  });
  after(() => ctx.close());

  it('answers allow with the role and the inherited grant, and deny with why', async () => {
    const yes = await call('POST', '/v1/authz/check', {
      principalId: 'ann',
      privilege: 'report.read',
    });
    assert.deepEqual(yes.body, {
      allow: true,
      reason: 'role clerk grants privilege report.read (inherited from base)',
      role: 'clerk',
      grantedBy: 'base',
    });
    const no = await call('POST', '/v1/authz/check', {
      principalId: 'ann',
      resourceType: 'invoice',
      action: 'update',
      objectId: 'i-8',
    });
    assert.equal(no.body.allow, false);
    const batch = await call('POST', '/v1/authz/check/batch', {
      checks: [
        { principalId: 'ann', resourceType: 'invoice', action: 'update', objectId: 'i-7' },
        { principalId: 'ann', privilege: 'authlog.admin' },
        { principalId: 'nobody', privilege: 'report.read' },
      ],
    });
    assert.deepEqual(
      batch.body.results.map((r: { allow: boolean }) => r.allow),
      [true, false, false],
    );
    assert.deepEqual(
      (await call('GET', '/v1/authz/objects?principalId=ann&resourceType=invoice&action=update'))
        .body,
      { all: false, ids: ['i-7'] },
    );
  });

  it('shows a role with its grants and members; refusals are typed', async () => {
    const role = await call('GET', '/v1/roles/clerk');
    assert.equal(role.body.effectiveParentId, 'base');
    assert.deepEqual(role.body.members, ['ann']);
    assert.equal(
      (await call('PATCH', '/v1/roles/base', { parentId: 'clerk' })).body.code,
      'ROLE_CYCLE',
    );
    assert.equal(
      (await call('PUT', '/v1/roles/clerk/grants', { privilege: 'no.such', effect: 'grant' })).body
        .code,
      'PRIVILEGE_NOT_FOUND',
    );
    assert.equal(
      (await call('PUT', '/v1/roles/clerk/grants', { privilege: 'report.read', effect: 'maybe' }))
        .body.code,
      'VALIDATION_FAILED',
    );
    assert.equal((await call('DELETE', '/v1/roles/administrators')).body.code, 'ROLE_PROTECTED');
    assert.equal(
      (await call('POST', '/v1/authz/check', { principalId: 'ann' })).body.code,
      'VALIDATION_FAILED',
    );
    // Revoking the membership takes effect at the very next check.
    assert.equal((await call('DELETE', '/v1/roles/clerk/members/ann')).status, 200);
    assert.equal(
      (await call('POST', '/v1/authz/check', { principalId: 'ann', privilege: 'report.read' })).body
        .allow,
      false,
    );
  });
});
