// Records which kernel program and link ids the BPF objects opened through
// `addon.BpfObject` (by code under test) created, so a test can ask the kernel
// about exactly those ids, whatever else runs on the machine.
import type { NativeBpfObject } from '../../src/native/addon';
import { addon } from '../../src/native/addon';
import { bpfIdsOf, links } from './bpftool';
import type { HasTeardown } from './teardown';

export interface ObjectSpy {
  opened: number;
  progIds: number[];
  linkIds: number[];
  mapIds: number[];
}

export function spyOnObjects(t: HasTeardown): ObjectSpy {
  const spy: ObjectSpy = { opened: 0, progIds: [], linkIds: [], mapIds: [] };
  const Real = addon.BpfObject;
  addon.BpfObject = new Proxy(Real, {
    construct(target, args: [string | Uint8Array, string]): NativeBpfObject {
      const heldBefore = new Set(bpfIdsOf(process.pid).mapIds);
      const object = new target(...args);
      spy.opened++;
      const load = object.load.bind(object);
      const attach = object.attach.bind(object);
      const own = new Set<number>();
      // The addon's methods are read-only on the prototype: shadow them with own properties.
      Object.defineProperty(object, 'load', {
        value: () => {
          load();
          // Maps this process did not hold before the object was opened are its maps.
          for (const id of bpfIdsOf(process.pid).mapIds) if (!heldBefore.has(id)) spy.mapIds.push(id);
          for (const { id } of object.programStats()) {
            own.add(id);
            spy.progIds.push(id);
          }
        },
      });
      Object.defineProperty(object, 'attach', {
        value: (...a: Parameters<NativeBpfObject['attach']>) => {
          const link = attach(...a);
          for (const l of links()) if (own.has(l.prog_id) && !spy.linkIds.includes(l.id)) spy.linkIds.push(l.id);
          return link;
        },
      });
      return object;
    },
  });
  t.teardown(() => {
    addon.BpfObject = Real;
  });
  return spy;
}
