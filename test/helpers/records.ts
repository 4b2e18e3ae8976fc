// Hand-made record bytes for decoder tests: a layout written out by hand (the
// way bpf/exec.h lays it out) and a writer that fills fields by name.
import type { Field } from '../../src/decode/RecordLayout';
import { RecordLayout } from '../../src/decode/RecordLayout';

/** struct exec_record (bpf/exec.h) as offsets typed in by hand. */
export const EXEC_FIELDS: Field[] = [
  { name: 'hdr.type', offset: 0, size: 2, kind: 'u16' },
  { name: 'hdr.version', offset: 2, size: 2, kind: 'u16' },
  { name: 'hdr.cpu', offset: 4, size: 4, kind: 'u32' },
  { name: 'hdr.ts_ns', offset: 8, size: 8, kind: 'u64' },
  { name: 'hdr.pid', offset: 16, size: 4, kind: 'u32' },
  { name: 'hdr.tgid', offset: 20, size: 4, kind: 'u32' },
  { name: 'hdr.cgroup_id', offset: 24, size: 8, kind: 'u64' },
  { name: 'ppid', offset: 32, size: 4, kind: 'u32' },
  { name: 'uid', offset: 36, size: 4, kind: 'u32' },
  { name: 'comm', offset: 40, size: 16, kind: 'string' },
  { name: 'filename', offset: 56, size: 128, kind: 'string' },
];

export function handExecLayout(): RecordLayout {
  return new RecordLayout('exec_record', 184, EXEC_FIELDS);
}

const encoder = new TextEncoder();

/** Writes `values` into the record at `record` in `bytes`; strings as raw bytes (no NUL added). */
export function writeFields(
  bytes: Uint8Array,
  record: number,
  layout: RecordLayout,
  values: Record<string, number | bigint | string | Uint8Array>,
): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (const [name, value] of Object.entries(values)) {
    const field = layout.field(name);
    const at = record + field.offset;
    if (typeof value === 'string' || value instanceof Uint8Array) {
      const raw = typeof value === 'string' ? encoder.encode(value) : value;
      if (raw.length > field.size) throw new Error(`${name}: ${raw.length} bytes do not fit in ${field.size}`);
      bytes.set(raw, at);
      continue;
    }
    switch (field.kind) {
      case 'u8':
        view.setUint8(at, Number(value));
        break;
      case 's8':
        view.setInt8(at, Number(value));
        break;
      case 'u16':
        view.setUint16(at, Number(value), true);
        break;
      case 's16':
        view.setInt16(at, Number(value), true);
        break;
      case 'u32':
        view.setUint32(at, Number(value), true);
        break;
      case 's32':
        view.setInt32(at, Number(value), true);
        break;
      case 'u64':
        view.setBigUint64(at, BigInt(value), true);
        break;
      case 's64':
        view.setBigInt64(at, BigInt(value), true);
        break;
      default:
        throw new Error(`${name}: cannot write a number into a ${field.kind} field`);
    }
  }
}

/** `count` copies of `fill` bytes: stale ring memory after a string's NUL. */
export function garbage(count: number, fill = 0xa5): Uint8Array {
  return new Uint8Array(count).fill(fill);
}

/** A NUL-terminated string followed by junk, `size` bytes in all. */
export function cString(text: string, size: number, junk = 'xyzzy-stale-bytes'): Uint8Array {
  const out = new Uint8Array(size);
  const raw = encoder.encode(text);
  out.set(raw.subarray(0, size));
  if (raw.length < size) {
    const tail = encoder.encode(junk).subarray(0, size - raw.length - 1);
    out.set(tail, raw.length + 1);
  }
  return out;
}

/** Int32 words over exactly the bytes of `view` (what RecordCounter.add reads strings through). */
export function wordsOf(view: DataView): Int32Array {
  return new Int32Array(view.buffer, view.byteOffset, view.byteLength >> 2);
}
