// Forcing an attach variant: the kernel's real features with the preferred
// kinds marked unavailable, so the loader falls back as it would on an older
// kernel.
import type { AttachKind, KernelFeatures } from '../../src/native/addon';
import { addon } from '../../src/native/addon';

/** This kernel's features with only `kind` (and the kinds after it) left: forces a variant. */
export function featuresFrom(kind: AttachKind): KernelFeatures {
  const features = addon.kernelFeatures();
  const attach = { ...features.attach };
  for (const skipped of ['tp_btf', 'raw_tp'] as const) {
    if (skipped === kind) break;
    attach[skipped] = { ok: false, reason: `test: forcing ${kind}` };
  }
  return { ...features, attach };
}
