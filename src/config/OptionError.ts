// Bad settings, wherever they come from (config file, environment, flags,
// OTEL_* variables, a web config file): each names the key as its source
// spells it, the value, and what is accepted. main prints one line each and
// exits 2.

/** A bad setting: the message names the key, the value and what is accepted. */
export class OptionError extends Error {
  constructor(
    readonly key: string,
    readonly value: unknown,
    readonly accepted: string,
    message = `invalid ${key}: ${JSON.stringify(value)}; expected ${accepted}`,
  ) {
    super(message);
    this.name = 'OptionError';
  }

  /** A key nothing reads (a typo, or a setting from another version). */
  static unknownKey(key: string, accepted: string): OptionError {
    return new OptionError(key, undefined, accepted, `unknown key ${key}; expected ${accepted}`);
  }
}

/** Several bad settings at once: one line each. */
export class OptionErrors extends Error {
  constructor(readonly errors: OptionError[]) {
    super(errors.map((e) => e.message).join('\n'));
    this.name = 'OptionErrors';
  }

  /** Throws nothing for no errors, the error itself for one, an OptionErrors for more. */
  static throwIfAny(errors: OptionError[]): void {
    if (errors.length === 1) throw errors[0];
    if (errors.length > 1) throw new OptionErrors(errors);
  }
}

/** Every OptionError inside `error` (an OptionError, an OptionErrors), or none. */
export function optionErrorsOf(error: unknown): OptionError[] {
  if (error instanceof OptionError) return [error];
  if (error instanceof OptionErrors) return error.errors;
  return [];
}
