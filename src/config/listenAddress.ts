// The HTTP listen address (`listen`, --listen): checked with the other
// settings, and parsed again by the HTTP server that binds it.
import { OptionError } from './OptionError';

export interface Listen {
  /** undefined: every address. */
  host: string | undefined;
  port: number;
}

export const LISTEN_ACCEPTED = 'HOST:PORT, :PORT or [IPv6]:PORT';

export function parseListen(listen: string): Listen {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]*))?:(\d{1,5})$/.exec(listen);
  const port = match ? Number(match[3]) : NaN;
  if (!match || port > 65535) throw new OptionError('--listen', listen, LISTEN_ACCEPTED);
  return { host: match[1] ?? (match[2] || undefined), port };
}
