// Socket addresses of trace records as text, as ss prints them: 127.0.0.1:80,
// [::1]:80. Addresses are in network byte order, 4 (IPv4) or 16 bytes.

/** Linux address families (the same on every architecture). */
export const AF_INET = 2;
export const AF_INET6 = 10;

function ipv4(bytes: Uint8Array): string {
  return Array.from(bytes.subarray(0, 4)).join('.');
}

/**
 * RFC 5952 text: lowercase hex without leading zeros, the first longest run
 * of two or more zero groups as `::`, an IPv4-mapped address (dual-stack
 * sockets) with its IPv4 part dotted.
 */
export function ipv6(bytes: Uint8Array): string {
  const view = new DataView(bytes.buffer, bytes.byteOffset, 16);
  const groups = Array.from({ length: 8 }, (_, i) => view.getUint16(2 * i));
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) return `::ffff:${ipv4(bytes.subarray(12))}`;
  let run = { start: -1, length: 1 };
  for (let i = 0; i < 8; i++) {
    let end = i;
    while (end < 8 && groups[end] === 0) end++;
    if (end - i > run.length) run = { start: i, length: end - i };
    i = end;
  }
  const hex = groups.map((g) => g.toString(16));
  if (run.start < 0) return hex.join(':');
  return `${hex.slice(0, run.start).join(':')}::${hex.slice(run.start + run.length).join(':')}`;
}

/** `addr:port`, `[addr]:port` for IPv6; `?:port` for a family that is neither. */
export function socketAddress(family: number, address: Uint8Array, port: number): string {
  if (family === AF_INET) return `${ipv4(address)}:${port}`;
  if (family === AF_INET6) return `[${ipv6(address)}]:${port}`;
  return `?:${port}`;
}
