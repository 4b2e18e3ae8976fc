// Where the built pieces live, seen from dist/test/helpers/.
import path from 'node:path';

/** Repository root: dist/test/helpers -> ../../.. */
export const ROOT = path.resolve(__dirname, '..', '..', '..');
/** The compiled CLI (package.json `bin`). */
export const CLI = path.join(ROOT, 'dist', 'src', 'cli', 'main.js');
/** Compiled BPF objects (`make bpf`). */
export const BPF_DIR = path.join(ROOT, 'dist', 'bpf');
/** Holds the exec programs (and the process probe's fork and exit programs, not autoloaded). */
export const EXEC_OBJECT = path.join(BPF_DIR, 'process.bpf.o');
export const LOADGEN_OBJECT = path.join(BPF_DIR, 'loadgen.bpf.o');
/** One map of each hash kind with a 12-byte value, and a program that fills them. */
export const MAPVALUES_OBJECT = path.join(BPF_DIR, 'mapvalues.bpf.o');
