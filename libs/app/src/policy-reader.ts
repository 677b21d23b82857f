import { policyDecider, policyStream, type Policy } from '@twostep/domain';
import type { CommandPath } from './command-path';

/** The effective policy of a tenant: defaults plus every `PolicyUpdated` of its stream. */
export class PolicyReader {
  constructor(private readonly commandPath: CommandPath) {}

  async get(tenantId: string): Promise<Policy> {
    return (await this.commandPath.load(policyStream(tenantId), policyDecider)).state;
  }
}
