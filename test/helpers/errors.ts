/** Catching thrown errors so tests can assert on every field, not just the message. */

/** Runs fn and returns what it threw; fails the test if it returned normally. */
export function thrownBy(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected the call to throw, but it returned normally');
}

/** Like thrownBy, for a returned promise. */
export async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (e) {
    return e;
  }
  throw new Error('expected the promise to reject, but it resolved');
}

/** fn throws a Vit22bError with `code` whose message matches `message`. */
export function expectVitError(fn: () => unknown, code: string, message: RegExp): void {
  const e = thrownBy(fn) as { code?: string; message?: string };
  expect(e).toMatchObject({ code });
  expect(e.message).toMatch(message);
}
