import { CommandPath, PolicyReader, systemClock, type Clock } from '@twostep/app';
import { SecretBoxError, type EncryptedValue } from '@twostep/crypto';
import { accountDecider, parseStream, type AccountCommand } from '@twostep/domain';
import type { Actor } from '@twostep/eventstore';
import type { Output } from '../io';
import { eventPages, loadSecretBox, MemoryKeyValueStore, openEventStore, type StoreOptions } from '../store';

export interface ReencryptOptions extends StoreOptions {
  /** List what would be re-encrypted; append nothing. */
  dryRun?: boolean;
  /** Time stamped on the new events; default the system clock. */
  clock?: Clock;
}

export const CLI_ACTOR: Actor = { kind: 'system', id: 'twostep-cli' };

/** The state changed under us (disabled, or re-encrypted by someone else): nothing to append. */
class NothingToDo extends Error {}

/**
 * Key rotation for TOTP secrets. Events are never edited: for every enabled account whose
 * current secret uses a key other than the active one (the first of TWOSTEP_SECRET_KEYS), the
 * secret is decrypted with the ring and a `TotpSecretReencrypted` event with the secret under the
 * active key is appended through the domain's `ReencryptTotpSecret` command. Old events keep the
 * old ciphertext; once this reports nothing left on a key, that key can leave the ring.
 */
export async function reencryptSecrets(options: ReencryptOptions, out: Output): Promise<number> {
  const opened = await openEventStore(options, options.dryRun ? 'read' : 'write');
  try {
    const box = loadSecretBox(opened.env);
    const active = box.activeKeyId;
    const commandPath = new CommandPath(opened.eventStore, new MemoryKeyValueStore(), options.clock ?? systemClock);
    const policies = new PolicyReader(commandPath);

    const streams = new Set<string>();
    for await (const page of eventPages(opened.eventStore)) {
      for (const e of page) if (parseStream(e.stream).kind === 'account') streams.add(e.stream);
    }

    let enabled = 0;
    let current = 0;
    let reencrypted = 0;
    const pendingOnOldKeys: string[] = [];
    const failures: string[] = [];
    for (const stream of streams) {
      const parsed = parseStream(stream);
      if (parsed.kind !== 'account') continue;
      const { tenantId, userId } = parsed;
      const account = `${tenantId}/${userId}`;
      const aad = `${tenantId}/${userId}`;
      const { state } = await commandPath.load(stream, accountDecider);
      if (state.pendingTotp && state.pendingTotp.secret.kid !== active) pendingOnOldKeys.push(`${account} (${state.pendingTotp.secret.kid})`);
      if (state.factor.status !== 'on') continue;
      enabled++;
      const oldKid = state.factor.secret.kid;
      if (oldKid === active) {
        current++;
        continue;
      }
      if (options.dryRun) {
        out.write(`would re-encrypt ${account}: key ${oldKid} -> ${active}\n`);
        reencrypted++;
        continue;
      }
      try {
        await commandPath.run({
          stream,
          decider: accountDecider,
          actor: CLI_ACTOR,
          context: async (now) => ({ now, policy: await policies.get(tenantId) }),
          // Built from the state the append will be checked against, so a retry after a
          // concurrent login or disable decides again on what is really there.
          command: (latest): AccountCommand => {
            if (latest.factor.status !== 'on' || latest.factor.secret.kid === active) throw new NothingToDo();
            const plaintext = box.decrypt(latest.factor.secret as unknown as EncryptedValue, aad);
            return { type: 'ReencryptTotpSecret', secret: box.encrypt(plaintext, aad) };
          },
        });
        reencrypted++;
        out.write(`re-encrypted ${account}: key ${oldKid} -> ${active}\n`);
      } catch (error) {
        if (error instanceof NothingToDo) current++;
        else if (error instanceof SecretBoxError) {
          failures.push(`${account}: ${error.code === 'unknown_key' ? `key ${oldKid} is not in TWOSTEP_SECRET_KEYS` : `secret under key ${oldKid} does not decrypt with that key`}`);
        } else throw error;
      }
    }

    const verb = options.dryRun ? 'Would re-encrypt' : 'Re-encrypted';
    out.write(`${verb} ${reencrypted} TOTP secret${reencrypted === 1 ? '' : 's'} with key ${active} (${enabled} accounts with 2FA enabled, ${current} already on ${active}) in ${opened.description}\n`);
    if (pendingOnOldKeys.length > 0) {
      out.write(`${pendingOnOldKeys.length} unconfirmed setup(s) still use an older key: ${pendingOnOldKeys.join(', ')}; keep that key in the ring until they are confirmed or set up again\n`);
    }
    for (const failure of failures) out.write(`FAILED ${failure}\n`);
    return failures.length > 0 ? 1 : 0;
  } finally {
    await opened.close();
  }
}
