import type { AccountEvent, Contact, EventOf, NotificationKind } from '../events';
import type { Policy } from '../policy';
import type { AccountState, Folding } from './state';

/**
 * Security notifications: a fact other slices add to their decisions (2FA on or off, a lock, a
 * recovery code used, a passkey added), sent to the last address the account used. No address,
 * no notification.
 */
export function notify(state: AccountState, policy: Policy, kind: NotificationKind, contact: Contact | null = state.contact): AccountEvent[] {
  if (!contact) return [];
  return [
    {
      type: 'SecurityNotificationQueued',
      data: { kind, recipient: contact.recipient, maskedRecipient: contact.maskedRecipient, ...tenantName(policy) },
    },
  ];
}

/** The tenant's display name travels with each email event, so a mailer needs no policy of its own. */
export function tenantName(policy: Policy): { tenantName?: string } {
  return policy.displayName === null ? {} : { tenantName: policy.displayName };
}

export const notificationFolds: Folding<EventOf<'SecurityNotificationQueued'>> = {
  SecurityNotificationQueued: (state) => state,
};
