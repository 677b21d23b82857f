import { PipeTransform } from '@nestjs/common';
import { z } from 'zod/v4';
import { ApiError } from './errors';

/** Validates a request body against a strict zod schema: wrong types and unknown fields are 400s. */
export class ZodBody<T extends z.ZodType> implements PipeTransform<unknown, z.infer<T>> {
  constructor(private readonly schema: T) {}

  transform(value: unknown): z.infer<T> {
    const result = this.schema.safeParse(value ?? {});
    if (result.success) return result.data;
    const problems = result.error.issues.map((issue) => ({
      field: issue.path.join('.') || (issue.code === 'unrecognized_keys' ? issue.keys.join(', ') : '(body)'),
      message: issue.code === 'unrecognized_keys' ? `unknown field(s): ${issue.keys.join(', ')}` : issue.message,
    }));
    throw new ApiError(400, 'validation_failed', problems.map((p) => `${p.field}: ${p.message}`).join('; '), { problems });
  }
}

export const sixDigitCode = z.string().regex(/^\d{6}$/, 'must be exactly 6 digits');
export const emptyBody = z.object({}).strict();

/**
 * A name for a remembered device (e.g. a user-agent summary, "Firefox on Linux"): 1-100 printable
 * characters, counted as code points. Control, format (bidi overrides, zero-width), private-use and
 * unassigned characters and line separators are refused, so the text is safe in the event log and
 * in a console; blank is refused too.
 */
export const deviceLabel = z
  .string()
  .regex(/^(?=.*\S)[^\p{C}\p{Zl}\p{Zp}]{1,100}$/u, 'must be 1-100 printable characters (no control characters), not only spaces')
  .describe('a name for the remembered device, e.g. a user-agent summary ("Firefox on Linux"); shown in the device list and event log');
