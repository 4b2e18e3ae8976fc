// The PCI ID database (pci.ids, from the pci.ids or hwdata package): names of
// vendors, devices, classes and subclasses, for the pci_* decoders. Each
// decoder reads a number's decimal text, as ebpf_exporter's do: the vendor,
// vendor << 16 | device, the class, class << 8 | subclass.
import { readFileSync } from 'node:fs';

export const PCI_IDS_FILES = ['/usr/share/misc/pci.ids', '/usr/share/hwdata/pci.ids'];

export interface PciIds {
  vendors: Map<number, string>;
  /** By vendor << 16 | device. */
  devices: Map<number, string>;
  classes: Map<number, string>;
  /** By class << 8 | subclass. */
  subclasses: Map<number, string>;
}

/**
 * `1af4  Red Hat, Inc.` a vendor, `\t1000  Virtio network device` its device;
 * `C 02  Network controller` a class, `\t00  Ethernet controller` its
 * subclass; deeper lines (subsystems, programming interfaces) are skipped.
 */
export function parsePciIds(text: string): PciIds {
  const ids: PciIds = { vendors: new Map(), devices: new Map(), classes: new Map(), subclasses: new Map() };
  let vendor: number | undefined;
  let klass: number | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line.trim() === '') continue;
    let match: RegExpExecArray | null;
    if ((match = /^C ([0-9a-f]{2})\s+(.+)$/.exec(line))) {
      klass = parseInt(match[1], 16);
      vendor = undefined;
      ids.classes.set(klass, match[2]);
    } else if ((match = /^([0-9a-f]{4})\s+(.+)$/.exec(line))) {
      vendor = parseInt(match[1], 16);
      klass = undefined;
      ids.vendors.set(vendor, match[2]);
    } else if ((match = /^\t([0-9a-f]{4})\s+(.+)$/.exec(line)) && vendor !== undefined) {
      ids.devices.set(vendor * 65536 + parseInt(match[1], 16), match[2]);
    } else if ((match = /^\t([0-9a-f]{2})\s+(.+)$/.exec(line)) && klass !== undefined) {
      ids.subclasses.set((klass << 8) | parseInt(match[1], 16), match[2]);
    }
  }
  return ids;
}

let loaded: PciIds | undefined;

/** The system's database, read once, or undefined when no pci.ids is installed. */
export function systemPciIds(): PciIds | undefined {
  if (loaded) return loaded;
  for (const file of PCI_IDS_FILES) {
    try {
      loaded = parsePciIds(readFileSync(file, 'utf8'));
      return loaded;
    } catch {
      // the next place it may be
    }
  }
  return undefined;
}
