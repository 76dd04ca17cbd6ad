// Decisions on principals, identity directories and identities (src/authn/principals.ts), as
// given/when/then over the real read model: what each command records, what it refuses, and the
// authority its events carry.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ADMINISTRATORS_ROLE } from '../../projections/authz.ts';
import {
  activatePrincipal,
  addIdentity,
  changeIdentityDirectory,
  changeProfile,
  deactivatePrincipal,
  defineIdentityDirectory,
  deletePrincipal,
  registerPrincipal,
  removeIdentity,
} from '../../src/authn/principals.ts';
import * as normalize from '../../src/events/normalize.ts';
import {
  administrator,
  elevated,
  given,
  holder,
  identity,
  principal,
  sessionStarted,
  unelevated,
} from '../support/decide.ts';

const MANAGE = 'authlog.principals.manage';
const asAdmin = [
  { role: ADMINISTRATORS_ROLE, grantedBy: ADMINISTRATORS_ROLE, grant: 'privilege:authlog.admin' },
];
const asManager = [{ role: 'pm-role', grantedBy: 'pm-role', grant: `privilege:${MANAGE}` }];

describe('principals: decisions', () => {
  it('registers a principal with a first identity, allowed by the manage privilege', () => {
    given(holder('pm', MANAGE))
      .when(
        registerPrincipal({
          principalId: 'alice',
          kind: 'person',
          briefName: 'Alice',
          email: 'Alice@Example.org',
          identity: { identityId: 'alice-id', name: 'Alice' },
        }),
        { actor: 'pm' },
      )
      .then([
        {
          type: 'PrincipalRegistered',
          data: {
            principalId: 'alice',
            kind: 'person',
            pii: {
              briefName: 'Alice',
              fullName: 'Alice',
              email: 'Alice@Example.org',
              emailKey: 'alice@example.org',
              phone: null,
            },
          },
        },
        {
          type: 'IdentityAdded',
          data: {
            identityId: 'alice-id',
            directoryId: 'internal',
            principalId: 'alice',
            pii: normalize.claimedName('name', 'Alice'),
          },
        },
      ]);
  });

  it('records the grant the actor acted by as the decision’s authority', () => {
    const outcome = given(holder('pm', MANAGE)).when(
      registerPrincipal({ principalId: 'bob', kind: 'service', briefName: 'bob' }),
      { actor: 'pm' },
    );
    assert.deepEqual(outcome.authority, asManager);
  });

  it('refuses an actor without the manage privilege', () => {
    given(principal('mallory'))
      .when(registerPrincipal({ principalId: 'x', kind: 'person', briefName: 'x' }), {
        actor: 'mallory',
      })
      .thenRefused('FORBIDDEN');
  });

  it('lets only administrators choose a principal id (a creation elsewhere would merge)', () => {
    given(holder('pm', MANAGE))
      .when(
        registerPrincipal({
          principalId: 'chosen',
          kind: 'person',
          briefName: 'c',
          idChosen: true,
        }),
        { actor: 'pm' },
      )
      .thenRefused('FORBIDDEN');
    const outcome = given(administrator('root'))
      .when(
        registerPrincipal({
          principalId: 'chosen',
          kind: 'person',
          briefName: 'c',
          idChosen: true,
        }),
        { actor: 'root' },
      )
      .then([
        {
          type: 'PrincipalRegistered',
          data: {
            principalId: 'chosen',
            kind: 'person',
            pii: { briefName: 'c', fullName: 'c', email: null, emailKey: null, phone: null },
          },
        },
      ]);
    assert.deepEqual(outcome.authority, asAdmin);
  });

  it('refuses an email another principal holds, whatever its case', () => {
    given(principal('alice', { email: 'alice@example.org' }))
      .when(
        registerPrincipal({
          principalId: 'eve',
          kind: 'person',
          briefName: 'eve',
          email: 'ALICE@example.org',
        }),
      )
      .thenRefused('EMAIL_TAKEN');
  });

  it('refuses an identity name that looks like a taken one (UTS #39 skeleton)', () => {
    given([principal('alice'), identity('a1', 'alice', 'admin'), principal('eve')])
      .when(addIdentity({ identityId: 'e1', principalId: 'eve', name: 'adrnin' }))
      .thenRefused('IDENTITY_NAME_TAKEN');
  });

  it('changing nothing records nothing', () => {
    given(principal('alice', { email: 'alice@example.org' }))
      .when(changeProfile({ principalId: 'alice', email: 'alice@example.org' }))
      .then([]);
  });

  it('a recovery channel of a stronger principal is out of a principal manager’s reach', () => {
    given([...holder('pm', MANAGE), ...administrator('root')])
      .when(changeProfile({ principalId: 'root', email: 'pm@example.org' }), elevated('pm'))
      .thenRefused('FORBIDDEN');
  });

  it('a recovery channel needs an elevated session', () => {
    given([...holder('pm', MANAGE), principal('alice')])
      .when(changeProfile({ principalId: 'alice', email: 'a@example.org' }), unelevated('pm'))
      .thenRefused('ELEVATION_REQUIRED');
  });

  it('a name is not a recovery channel: no elevation needed', () => {
    given([...holder('pm', MANAGE), principal('alice')])
      .when(changeProfile({ principalId: 'alice', briefName: 'Al' }), unelevated('pm'))
      .then([
        {
          type: 'PrincipalProfileChanged',
          data: { principalId: 'alice', pii: { briefName: 'Al' } },
        },
      ]);
  });

  it('deactivating ends the principal’s open sessions', () => {
    given([principal('alice'), sessionStarted('s1', 'alice')])
      .when(deactivatePrincipal({ principalId: 'alice', reason: 'left' }))
      .then([
        { type: 'PrincipalDeactivated', data: { principalId: 'alice', reason: 'left' } },
        { type: 'SessionEnded', data: { sessionId: 's1', reason: 'principal-disabled' } },
      ]);
  });

  it('activates an inactive principal; an active one records nothing', () => {
    const deactivated = [
      principal('alice'),
      { type: 'PrincipalDeactivated', data: { principalId: 'alice', reason: '' } } as const,
    ];
    given(deactivated)
      .when(activatePrincipal({ principalId: 'alice' }))
      .then([{ type: 'PrincipalActivated', data: { principalId: 'alice' } }]);
    given(principal('alice'))
      .when(activatePrincipal({ principalId: 'alice' }))
      .then([]);
  });

  it('the anonymous principal cannot be deleted', () => {
    given()
      .when(deletePrincipal({ principalId: 'anonymous' }))
      .thenRefused('PRINCIPAL_PROTECTED');
  });

  it('removes an identity once', () => {
    const scenario = given([principal('alice'), identity('a1', 'alice', 'alice')]);
    scenario
      .when(removeIdentity({ identityId: 'a1' }))
      .then([{ type: 'IdentityRemoved', data: { identityId: 'a1' } }]);
    given([
      principal('alice'),
      identity('a1', 'alice', 'alice'),
      { type: 'IdentityRemoved', data: { identityId: 'a1' } },
    ])
      .when(removeIdentity({ identityId: 'a1' }))
      .then([]);
  });

  it('defines an identity directory; a lookalike name is taken', () => {
    given()
      .when(defineIdentityDirectory({ directoryId: 'corp', name: 'Corp' }))
      .then([
        {
          type: 'IdentityDirectoryDefined',
          data: { directoryId: 'corp', ...normalize.claimedName('name', 'Corp'), description: '' },
        },
      ]);
    given()
      .when(defineIdentityDirectory({ directoryId: 'x', name: 'intemal' }))
      .thenRefused('DIRECTORY_NAME_TAKEN');
  });

  it('tying a directory to credential directories holds the actor to what its users hold', () => {
    given([...holder('pm', MANAGE), ...administrator('root'), identity('r1', 'root', 'root')])
      .when(
        changeIdentityDirectory({ directoryId: 'internal', credentialDirectoryIds: ['password'] }),
        elevated('pm'),
      )
      .thenRefused('FORBIDDEN');
  });
});
