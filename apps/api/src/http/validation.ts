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
