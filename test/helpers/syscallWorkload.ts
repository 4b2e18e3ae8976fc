// A gated workload whose syscalls are known exactly: `getppid` getppid()
// calls, then `badCloses` close() calls on an fd that is not open (EBADF).
import { GatedWorkload } from './gatedWorkload';
import type { HasTeardown } from './teardown';

/** Resolves once the interpreter has started, so its own start-up syscalls are not counted. */
export async function syscallWorkload(
  t: HasTeardown,
  counts: { getppid: number; badCloses: number },
): Promise<GatedWorkload> {
  const workload = GatedWorkload.start(
    t,
    `for _ in range(${counts.getppid}):\n    os.getppid()\n` +
      `for _ in range(${counts.badCloses}):\n    try:\n        os.close(987654)\n    except OSError:\n        pass`,
  );
  await workload.started();
  return workload;
}
