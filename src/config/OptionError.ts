// Bad settings, wherever they come from (config file, environment, flags,
// OTEL_* variables, a web config file): each names the key as its source
// spells it, the value, and what is accepted. main prints one line each, at
// most SHOWN_PROBLEMS of them, and exits 2.

/** Lines main prints before `… and N more problems`. */
export const SHOWN_PROBLEMS = 20;
/** Problems built per source; past this they are only counted (200,000 unknown keys build 1000 messages). */
export const KEPT_PROBLEMS = 1000;
/** Characters of a value shown in a message. */
const SHOWN_VALUE = 120;
/** Characters of a message: a key or value from a file may be as long as the file. */
const LONGEST_LINE = 1000;

/** `value` as JSON, cut short; what JSON cannot show (a BigInt, a nesting too deep) by its type. */
function shown(value: unknown): string | undefined {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch {
    text = Array.isArray(value) ? 'a list' : typeof value;
  }
  return text !== undefined && text.length > SHOWN_VALUE ? `${text.slice(0, SHOWN_VALUE)}…` : text;
}

/** `message` as one printable line: control characters escaped, a long middle cut out. */
function oneLine(message: string): string {
  // eslint-disable-next-line no-control-regex
  const line = message.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) =>
    c === '\n' ? '\\n' : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
  if (line.length <= LONGEST_LINE) return line;
  const cut = line.length - LONGEST_LINE;
  return `${line.slice(0, LONGEST_LINE * 0.6)}…(${cut} characters)…${line.slice(line.length - LONGEST_LINE * 0.4)}`;
}

/** A bad setting: the message (one line) names the key, the value and what is accepted. */
export class OptionError extends Error {
  constructor(
    readonly key: string,
    readonly value: unknown,
    readonly accepted: string,
    message = `invalid ${key}: ${shown(value)}; expected ${accepted}`,
  ) {
    super(oneLine(message));
    this.name = 'OptionError';
  }

  /** A key nothing reads (a typo, or a setting from another version). */
  static unknownKey(key: string, accepted: string): OptionError {
    return new OptionError(key, undefined, accepted, `unknown key ${key}; expected ${accepted}`);
  }
}

/** Several bad settings at once: one line each; `more` were found but not built (past KEPT_PROBLEMS). */
export class OptionErrors extends Error {
  constructor(
    readonly errors: OptionError[],
    readonly more = 0,
  ) {
    super([...errors.map((e) => e.message), ...(more ? [`… and ${more} more problems`] : [])].join('\n'));
    this.name = 'OptionErrors';
  }

  /** Throws nothing for no errors, the error itself for one, an OptionErrors for more. */
  static throwIfAny(errors: OptionError[], more = 0): void {
    if (errors.length === 1 && more === 0) throw errors[0];
    if (errors.length > 0) throw new OptionErrors(errors, more);
  }
}

/** The problems of one source as they are found: the first KEPT_PROBLEMS built, the rest counted. */
export class OptionProblems {
  readonly errors: OptionError[] = [];
  /** Problems found past KEPT_PROBLEMS, not built. */
  more = 0;

  /** Problems found, built or not. */
  get count(): number {
    return this.errors.length + this.more;
  }

  /** Keeps the error `make` builds, or, past KEPT_PROBLEMS, only counts it. */
  add(make: () => OptionError): void {
    if (this.errors.length < KEPT_PROBLEMS) this.errors.push(make());
    else this.more++;
  }

  /** Throws the problems of `lists` (OptionErrors.throwIfAny), if any. */
  static throwIfAny(lists: OptionProblems[]): void {
    OptionErrors.throwIfAny(
      lists.flatMap((list) => list.errors),
      lists.reduce((sum, list) => sum + list.more, 0),
    );
  }
}

/** Every OptionError inside `error` (an OptionError, an OptionErrors), or none. */
export function optionErrorsOf(error: unknown): OptionError[] {
  if (error instanceof OptionError) return [error];
  if (error instanceof OptionErrors) return error.errors;
  return [];
}

/** What main prints for `error`: the first SHOWN_PROBLEMS messages and `… and N more problems`; none for other errors. */
export function problemLines(error: unknown): string[] {
  const errors = optionErrorsOf(error);
  const total = errors.length + (error instanceof OptionErrors ? error.more : 0);
  const lines = errors.slice(0, SHOWN_PROBLEMS).map((e) => e.message);
  if (total > lines.length) lines.push(`… and ${total - lines.length} more problems`);
  return lines;
}
