// A user probe that cannot be used as written: one line naming the file, the
// key (`metrics.counters[0].labels[1].size`) and what to write instead.
export class UserProbeError extends Error {
  constructor(
    readonly file: string,
    readonly key: string,
    problem: string,
  ) {
    super(`${file}: ${key ? `${key}: ` : ''}${problem}`);
    this.name = 'UserProbeError';
  }
}
