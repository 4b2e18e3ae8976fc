/** The part of a tap Test the helpers need: somewhere to register cleanup. */
export interface HasTeardown {
  teardown(fn: () => unknown): void;
}

/**
 * How much slower than this machine the kernel under test runs: the kernel
 * matrix (test/kernels) sets KS_TIME_SCALE for its guests, which QEMU
 * emulates without KVM. Every wait of the helpers is stretched by it; what
 * the tests count is not.
 */
export const TIME_SCALE = Number(process.env.KS_TIME_SCALE ?? '1');

/** `ms` on this machine, as long as it takes on the kernel under test. */
export function scaled(ms: number): number {
  return ms * TIME_SCALE;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` until it returns a value other than undefined, or throws after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => T | undefined | Promise<T | undefined>,
  { timeoutMs = 5000, intervalMs = 50 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + scaled(timeoutMs);
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${scaled(timeoutMs)} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}
