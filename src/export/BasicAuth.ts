// HTTP basic auth against bcrypt hashes (web config basic_auth_users). A
// verified (user, password) pair is remembered by its sha256, as the
// exporter-toolkit does, so a scraper that logs in every few seconds pays
// bcrypt once; failures are not remembered (each costs a comparison, on the
// worker thread, within BcryptWorker's bounded queue).
import { createHash } from 'node:crypto';

import { BcryptWorker } from './BcryptWorker';

/** Remembered logins: a few scrapers and people; beyond that the oldest is forgotten. */
export const MAX_REMEMBERED_LOGINS = 64;
/**
 * An unknown user is compared with this hash (of "fakepassword", the
 * exporter-toolkit's) so that the answer takes as long as for a known user:
 * timing does not tell which user names exist.
 */
const UNKNOWN_USER_HASH = '$2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi';

export type AuthResult = 'allowed' | 'denied' | 'busy';

export class BasicAuth {
  private readonly bcrypt = new BcryptWorker();
  /** sha256 of [user, password] -> true, oldest first. */
  private readonly remembered = new Map<string, true>();

  constructor(private readonly users: ReadonlyMap<string, string>) {}

  /** Checks an Authorization header. */
  async check(authorization: string | undefined): Promise<AuthResult> {
    const credentials = /^Basic ([A-Za-z0-9+/]+=*)$/i.exec(authorization?.trim() ?? '')?.[1];
    if (credentials === undefined) return 'denied';
    const decoded = Buffer.from(credentials, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return 'denied';
    const [user, password] = [decoded.slice(0, colon), decoded.slice(colon + 1)];
    const key = createHash('sha256')
      .update(JSON.stringify([user, password]))
      .digest('hex');
    if (this.remembered.has(key)) return 'allowed';
    const hash = this.users.get(user);
    const match = await this.bcrypt.compare(password, hash ?? UNKNOWN_USER_HASH);
    if (match === 'busy') return 'busy';
    if (!match || hash === undefined) return 'denied';
    this.remembered.set(key, true);
    if (this.remembered.size > MAX_REMEMBERED_LOGINS) this.remembered.delete(this.remembered.keys().next().value!);
    return 'allowed';
  }

  close(): Promise<void> {
    return this.bcrypt.close();
  }
}
