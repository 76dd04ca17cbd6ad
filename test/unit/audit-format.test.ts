// Threats: CSV injection (a cell a spreadsheet would run as a formula, CWE-1236 / OWASP "CSV
// Injection"), a value breaking out of its cell or line, terminal control sequences in exported
// text, secrets or personal data leaking into audit summaries of event types added later, and a
// flood of denials flooding the log. Also: family and subjects of any event type.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { AuditEntry } from '../../projections/audit.ts';
import {
  allowedByOf,
  familyOf,
  genericSummary,
  subjectsOf,
  summaryOf,
} from '../../projections/audit-describe.ts';
import {
  CSV_COLUMNS,
  csvCell,
  csvHeader,
  csvRow,
  ndjsonLine,
} from '../../src/accounting/formats.ts';
import { createDenialLimiter } from '../../src/http/denials.ts';
import { parseCsv } from '../support/csv.ts';

const entry = (over: Partial<AuditEntry> = {}): AuditEntry => ({
  at: '2026-01-01T00:00:00.000Z',
  hlc: '019b7772400000000@a',
  origin: 'a',
  seq: '1',
  eventId: '01J0000000000000000000000A',
  actor: 'system',
  via: null,
  type: 'PrincipalDeactivated',
  family: 'principal',
  subjects: ['p1'],
  summary: 'deactivated principal p1',
  ip: null,
  correlationId: null,
  allowedBy: null,
  ...over,
});

describe('audit export formats', () => {
  it('defuses formula cells and keeps every value in its own cell (any text)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), fc.string(), (summary, actor) => {
        const text = csvHeader() + csvRow(entry({ summary, actor }));
        const rows = parseCsv(text);
        assert.equal(rows.length, 2);
        assert.deepEqual(rows[0], [...CSV_COLUMNS]);
        assert.equal(rows[1]!.length, CSV_COLUMNS.length);
        for (const cell of rows[1]!) {
          assert.doesNotMatch(cell, /^[=+\-@\t\r]/, 'no cell starts a formula');
          assert.doesNotMatch(cell, /[\p{Cc}\u202a-\u202e\u2066-\u2069]/u, 'no raw controls');
        }
        const shown = rows[1]![CSV_COLUMNS.indexOf('summary')]!;
        if (!/[\p{Cc}\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/u.test(summary))
          assert.equal(shown, /^[=+\-@\t\r]/.test(summary) ? `'${summary}` : summary);
      }),
    );
  });

  it('prefixes the classic payloads', () => {
    assert.equal(csvCell('=HYPERLINK("http://x","y")'), `"'=HYPERLINK(""http://x"",""y"")"`);
    assert.equal(csvCell('+1'), `"'+1"`);
    assert.equal(csvCell('-2+3'), `"'-2+3"`);
    assert.equal(csvCell('@SUM(A1)'), `"'@SUM(A1)"`);
    assert.equal(csvCell('\tx'), `"'\\x09x"`);
    assert.equal(csvCell('plain, "quoted"'), `"plain, ""quoted"""`);
    assert.equal(csvCell(null), '""');
  });

  it('writes NDJSON lines that parse back to the same value, one per line', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (summary) => {
        const value = entry({ summary });
        const line = ndjsonLine(value);
        assert.ok(line.endsWith('\n'));
        assert.equal(line.indexOf('\n'), line.length - 1, 'one line');
        assert.doesNotMatch(line, /[\u0080-\u009f\u202a-\u202e\u2066-\u2069\u2028\u2029]/u);
        assert.deepEqual(JSON.parse(line), value);
      }),
    );
  });
});

describe('audit rows of any event type', () => {
  it('puts event types into families, including types this code has not seen', () => {
    assert.equal(familyOf('PrincipalRegistered'), 'principal');
    assert.equal(familyOf('PrincipalLockedOut'), 'authentication');
    assert.equal(familyOf('AuthenticationFailed'), 'authentication');
    assert.equal(familyOf('SessionStarted'), 'session');
    assert.equal(familyOf('OtpEnrolled'), 'credential');
    assert.equal(familyOf('CredentialDirectoryDefined'), 'directory');
    assert.equal(familyOf('RoleMembershipGranted'), 'authorization');
    assert.equal(familyOf('AccessDenied'), 'authorization');
    assert.equal(familyOf('AuditRead'), 'accounting');
    assert.equal(familyOf('SomethingNew'), 'other');
  });

  it('takes every …Id, …Ids, privilege and resource type as a subject, sorted, once', () => {
    assert.deepEqual(
      subjectsOf({
        sessionId: 's1',
        principalId: 'p1',
        roleIds: ['r2', 'r1', 'p1'],
        privilege: 'ops.deploy',
        name: 'not a subject',
        pii: { principalId: 'hidden' },
      }),
      ['ops.deploy', 'p1', 'r1', 'r2', 's1'],
    );
  });

  it('never shows secrets, hashes or personal data in a generic summary', () => {
    const data = {
      sessionId: 'ses_1',
      principalId: 'p1',
      secretHash: 'a'.repeat(64),
      hash: '$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA',
      seed: { keyId: 'k1', ciphertext: 'AAAA' },
      token: 'alt_secret',
      code: '123456',
      pii: { email: 'ann@example.org', name: 'Ann' },
      email: 'ann@example.org',
      reason: 'bad password',
      evidences: ['knowledge', 'ownership'],
    };
    const s = summaryOf('SessionStartedSomehow', data);
    assert.equal(
      s,
      'session started somehow: evidences=knowledge,ownership principalId=p1 reason=bad password sessionId=ses_1',
    );
    for (const leak of ['aaaa', 'argon2', 'AAAA', 'alt_', '123456', 'example.org', 'Ann'])
      assert.ok(!s.includes(leak), leak);
    assert.equal(genericSummary('NothingToSay', { blob: 'x' }), 'nothing to say');
  });

  it('summarises the access token without its hash, and an identity with its login name', () => {
    const token = summaryOf('AccessTokenIssued', {
      credentialId: 'c1',
      principalId: 'p1',
      name: 'ci',
      secretHash: 'f'.repeat(64),
      expiresAt: '2027-01-01T00:00:00.000Z',
      subnets: ['10.0.0.0/8'],
    });
    assert.equal(
      token,
      'issued access token c1 (ci) to p1, expires 2027-01-01T00:00:00.000Z, only from 10.0.0.0/8',
    );
    assert.equal(
      summaryOf('IdentityAdded', {
        identityId: 'i1',
        directoryId: 'internal',
        principalId: 'p1',
        pii: { name: 'ann', key: 'ann' },
      }),
      'added identity ann in internal to principal p1',
    );
  });
});

describe('denial rate limit', () => {
  it('records at most perWindow denials per actor per window and carries the count of the rest', () => {
    const limiter = createDenialLimiter({ perWindow: 3, windowMs: 1000 });
    const seen = Array.from({ length: 10 }, (_, i) => limiter.admit('bob', i));
    assert.deepEqual(
      seen.map((s) => s.record),
      [true, true, true, false, false, false, false, false, false, false],
    );
    assert.deepEqual(limiter.admit('ann', 5), { record: true, suppressed: 0 });
    assert.deepEqual(limiter.admit('bob', 1000), { record: true, suppressed: 7 });
    assert.deepEqual(limiter.admit('bob', 1001), { record: true, suppressed: 0 });
  });

  it('forgets the least recently denied actor beyond maxActors', () => {
    const limiter = createDenialLimiter({ perWindow: 1, windowMs: 1000, maxActors: 2 });
    limiter.admit('a', 0);
    limiter.admit('b', 0);
    limiter.admit('c', 0);
    assert.equal(limiter.admit('a', 1).record, true, 'a was forgotten, so it starts afresh');
    assert.equal(limiter.admit('c', 1).record, false);
  });
});

describe('allowed by', () => {
  it('names each grant, its role, and the actor’s role when that inherits it', () => {
    assert.equal(allowedByOf(undefined), null);
    assert.equal(
      allowedByOf([
        { role: 'ops', grantedBy: 'ops', grant: 'privilege:authlog.roles.manage' },
        { role: 'ops', grantedBy: 'staff', grant: 'model:invoice:update' },
      ]),
      'privilege:authlog.roles.manage of ops; model:invoice:update of staff via ops',
    );
  });
});
