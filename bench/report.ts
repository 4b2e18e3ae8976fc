// What every benchmark prints the same way: aligned tables, and its flags' checks.

/** Prints `header` and `lines` as columns two spaces apart, each as wide as its widest cell. */
export function printColumns(header: string[], lines: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  for (const line of [header, ...lines]) {
    console.log(
      line
        .map((cell, i) => cell.padEnd(widths[i]))
        .join('  ')
        .trimEnd(),
    );
  }
}

/** A flag's positive integer, or an error naming the flag and the usage. */
export function positiveInt(flag: string, text: string | undefined, usage: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new Error(`invalid ${flag}: ${text}; expected a positive integer\n${usage}`);
  }
  return value;
}
