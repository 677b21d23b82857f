/** Assertions on @twostep/client answers (`{ok, status, data}` or `{ok, status, error}`), for the HTTP suites. */
export type Answer = { ok: boolean; status: number; data?: unknown; error?: unknown };
export type DataOf<R> = Extract<R, { ok: true }> extends { data: infer D } ? D : never;
export type ErrorOf<R> = Extract<R, { ok: false }> extends { error: infer E } ? E : never;

/** The data of an answer that must have succeeded with `status`; otherwise the test fails, showing the refusal. */
export function expectOk<R extends { ok: boolean; status: number }>(result: R, status = 200): DataOf<R> {
  const answer = result as unknown as Answer;
  expect({ ok: answer.ok, status: answer.status, error: answer.error }).toEqual({ ok: true, status, error: undefined });
  return answer.data as DataOf<R>;
}

/** The error of an answer that must have been refused with `status`. */
export function expectRefusal<R extends { ok: boolean; status: number }>(result: R, status: number): ErrorOf<R> {
  const answer = result as unknown as Answer;
  expect({ ok: answer.ok, status: answer.status, data: answer.data }).toEqual({ ok: false, status, data: undefined });
  return answer.error as ErrorOf<R>;
}
