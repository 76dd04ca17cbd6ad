// Accounting commands: reading the audit trail (which needs the audit privilege, checked in the
// state the read is decided against) and recording a refused operation.
import { requirePrivilege } from '../authz/admin.ts';
import type { Command } from '../node/command.ts';

export const AUDIT_PRIVILEGE = 'authlog.audit.read';

/**
 * Authorizes a read of the audit trail and records it: who read, with which filters (never the
 * rows returned). The record is written before the rows are read, so a read that cannot be
 * recorded does not happen (fail closed; OWASP ASVS 7.1.3 / 7.2.2).
 */
export const recordAuditRead = (filters: Readonly<Record<string, string>>): Command<void> => ({
  name: 'audit.read',
  decide(state, meta) {
    const authority = requirePrivilege(state, meta, AUDIT_PRIVILEGE);
    return {
      events: [{ type: 'AuditRead', data: { filters: { ...filters } } }],
      result: undefined,
      authority,
    };
  },
});

export type Denial = {
  readonly operation: string;
  readonly privilege: string | null;
  readonly targetId?: string;
  readonly suppressed: number;
};

export const recordAccessDenied = (denial: Denial): Command<void> => ({
  name: 'audit.denied',
  decide: () => ({ events: [{ type: 'AccessDenied', data: { ...denial } }], result: undefined }),
});
