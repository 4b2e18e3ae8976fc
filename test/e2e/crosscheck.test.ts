// Cross-check with an established tool on one shared workload: libbpf-tools
// syscount (Debian libbpf-tools) and kernscope's syscalls probe both trace a
// gated python3 process by pid; their per-syscall counts must agree.
//
// Both count at sys_exit. One difference is by design: kernscope counts a call
// only if it saw its sys_enter (its latency needs the start), while syscount
// without -L counts every exit. (syscount -L, which would need the enter too,
// counts nothing with -p in libbpf-tools 0.26.) The workload is blocked in
// read(stdin) when both attach, so syscount counts that one read and
// kernscope does not: read differs by exactly 1, every other syscall is equal.
import { existsSync, readFileSync } from 'node:fs';

import t from 'tap';

import { syscallName } from '../../src/probes/formats';
import { AgentProcess } from '../helpers/agent';
import { GatedWorkload } from '../helpers/gatedWorkload';
import { select } from '../helpers/metrics';
import { spawnClean, waitExit } from '../helpers/process';
import { waitFor } from '../helpers/teardown';

const SYSCOUNT = '/usr/sbin/syscount';

/** A mix of calls: many getppid(), failing close(), file writes and reads, stat, a directory listing. */
const WORK = `
import tempfile
for _ in range(3000):
    os.getppid()
for _ in range(41):
    try:
        os.close(987654)
    except OSError:
        pass
with tempfile.TemporaryDirectory() as d:
    for i in range(25):
        p = os.path.join(d, str(i))
        with open(p, 'wb') as f:
            f.write(b'x' * 4096)
        with open(p, 'rb') as f:
            f.read()
        os.stat(p)
    os.listdir(d)
`;

/** syscount's table: `name count` lines after the SYSCALL header; `[unknown: N]` named as kernscope names N. */
function parseSyscount(output: string): Record<string, number> {
  const counts: Record<string, number> = {};
  const lines = output.split('\n');
  const header = lines.findIndex((line) => /^SYSCALL\s+COUNT/.test(line));
  if (header < 0) throw new Error(`no syscount table in: ${output}`);
  for (const line of lines.slice(header + 1)) {
    const match = /^(\[unknown: (\d+)\]|\S+)\s+(\d+)\s*$/.exec(line.trim());
    if (!match) continue;
    const name = match[2] !== undefined ? syscallName(Number(match[2])) : match[1];
    counts[name] = (counts[name] ?? 0) + Number(match[3]);
  }
  return counts;
}

void t.test(
  'per-syscall counts agree with syscount -p on the same process',
  { skip: !existsSync(SYSCOUNT) && `${SYSCOUNT} missing (apt install libbpf-tools)` },
  async (t) => {
    const workload = GatedWorkload.start(t, WORK);
    // Both tools must attach while the workload waits in read(stdin) (x86-64 and arm64 alike name it by number).
    const readNr = Number(Object.entries({ x64: 0, arm64: 63 }).find(([arch]) => arch === process.arch)?.[1] ?? 0);
    await waitFor('the workload to block in read()', () => {
      const syscall = readFileSync(`/proc/${workload.pid}/syscall`, 'utf8');
      return syscall.startsWith(`${readNr} 0x0 `) ? true : undefined;
    });

    const agent = await AgentProcess.start(t, ['--probes', 'syscalls', '--pid', String(workload.pid)]);
    // Line-buffered, so its "Tracing syscalls" line (printed once attached) arrives through the pipe at once.
    const syscount = spawnClean('stdbuf', ['-oL', SYSCOUNT, '-p', String(workload.pid), '-T', '1000']);
    t.teardown(() => void syscount.kill('SIGKILL'));
    let output = '';
    syscount.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    syscount.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    await waitFor('syscount to attach', () => (output.includes('Ctrl+C to quit') ? true : undefined), {
      timeoutMs: 15000,
    });

    await workload.run();
    const exited = waitExit(syscount, 10000);
    syscount.kill('SIGINT'); // prints the table and exits
    t.same(await exited, { code: 0, signal: null }, 'syscount exited after printing');
    const theirs = parseSyscount(output);
    const ours = Object.fromEntries(
      select(await agent.metrics(), 'kernscope_syscalls_total').map((s) => [s.labels.syscall, s.value]),
    );

    t.comment(`syscount: ${JSON.stringify(theirs)}`);
    t.comment(`kernscope: ${JSON.stringify(ours)}`);
    t.equal(ours.getppid, 3000, 'kernscope: the 3000 getppid() calls');
    t.equal(theirs.getppid, 3000, 'syscount: the 3000 getppid() calls');
    t.ok(Object.keys(theirs).length >= 8, `syscount saw ${Object.keys(theirs).length} different syscalls`);
    t.same(ours, theirs, 'every syscall count equal (the read in flight at attach too: both count at exit)');
  },
);
