// Reading a YAML settings file (the kernscope config, the web config, a user
// probe's NAME.yaml) so that any file, however hostile, is refused quickly in
// one line: reading stops past YAML_FILE_LIMIT (a 10 GB file, /dev/zero),
// nesting past YAML_MAX_DEPTH is refused before the yaml library recurses
// into it, duplicate keys are found in one pass (the library's uniqueKeys
// compares every pair of keys: over a minute for 200,000) and an alias bomb is
// refused when it would expand past a hundred aliases. The file is opened and
// read once, so a FIFO works.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

import type { Document, Node as YamlNode } from 'yaml';
import { CST, Composer, Lexer, LineCounter, Parser, isMap, isPair, isScalar, isSeq } from 'yaml';

import { YamlFileError } from './YamlFileError';

/**
 * Bytes of the largest YAML file read. Settings files are a few kB (ebpf_exporter's largest example, 5 kB);
 * the yaml library takes about 0.5 s for 128 KiB of `[a,a,a,...]` (its slowest input per byte) on a busy
 * 2-CPU machine, over 2 s for 1 MiB.
 */
export const YAML_FILE_LIMIT = 128 * 1024;
/** Deepest nesting of collections accepted: settings files nest about 5 deep; the yaml library recurses per level. */
export const YAML_MAX_DEPTH = 64;
/** Aliases a document may expand (the yaml library's count), against alias bombs. */
const MAX_ALIAS_COUNT = 100;

const LIMIT_TEXT = `${YAML_FILE_LIMIT / 1024} KiB`;

function tooBig(file: string, size: string): YamlFileError {
  return new YamlFileError(
    file,
    'read',
    `${size}, over the ${LIMIT_TEXT} limit of a YAML settings file: name the right file, or shorten it`,
  );
}

/**
 * The text of `file`, read once and at most YAML_FILE_LIMIT bytes: a regular
 * file over the limit is refused by its size without reading it, a stream
 * (FIFO, device) once it has given more. Throws the errno error of open and
 * read (ENOENT, EISDIR...), or a YamlFileError for a file over the limit.
 */
export function readYamlFile(file: string): string {
  const fd = openSync(file, 'r');
  try {
    const stat = fstatSync(fd);
    if (stat.isFile() && stat.size > YAML_FILE_LIMIT) throw tooBig(file, `${stat.size} bytes`);
    const buffer = Buffer.allocUnsafe(YAML_FILE_LIMIT + 1);
    let length = 0;
    for (;;) {
      const read = readSync(fd, buffer, length, buffer.length - length, null);
      if (read === 0) break;
      length += read;
      if (length > YAML_FILE_LIMIT) throw tooBig(file, `more than ${YAML_FILE_LIMIT} bytes`);
    }
    return buffer.toString('utf8', 0, length);
  } finally {
    closeSync(fd);
  }
}

/** ` at line 3, column 1` of `offset` in the text. */
function at(lines: LineCounter, offset: number): string {
  const { line, col } = lines.linePos(offset);
  return ` at line ${line}, column ${col}`;
}

/**
 * The lexemes of `text`, refused (before the parser builds anything) once flow
 * collections nest past YAML_MAX_DEPTH or one line holds more `- ` and `? `
 * indicators than that (each opens a level). The parser, though iterative,
 * takes seconds for a million `[`.
 */
function* shallowLexemes(text: string, file: string, lines: LineCounter): Generator<string> {
  let flow = 0;
  let onLine = 0;
  let offset = 0;
  let scalar = false; // the lexeme after CST.SCALAR is a scalar's text, whatever it looks like
  for (const lexeme of new Lexer().lex(text)) {
    if (scalar) scalar = false;
    else if (lexeme === CST.SCALAR) scalar = true;
    else if (lexeme === '[' || lexeme === '{') flow++;
    else if (lexeme === ']' || lexeme === '}') flow = Math.max(0, flow - 1);
    else if (lexeme === '-' || lexeme === '?') onLine++;
    else if (lexeme === '\n' || lexeme === '\r\n' || lexeme === '') onLine = 0;
    if (flow > YAML_MAX_DEPTH || onLine > YAML_MAX_DEPTH) throw tooDeep(file, lines, offset);
    offset += lexeme.length;
    yield lexeme;
  }
}

function tooDeep(file: string, lines: LineCounter, offset: number): YamlFileError {
  return new YamlFileError(file, 'parse', `nested more than ${YAML_MAX_DEPTH} deep${at(lines, offset)}`);
}

/** The CST tokens of `text`, each refused if its collections nest past YAML_MAX_DEPTH (the composer recurses). */
function* shallowTokens(text: string, file: string, lines: LineCounter): Generator<CST.Token> {
  const parser = new Parser(lines.addNewLine);
  lines.addNewLine(0); // as Parser.parse() does at the start of input
  const check = (token: CST.Token): CST.Token => {
    const stack: [CST.Token, number][] = [[token, 0]];
    for (let entry = stack.pop(); entry; entry = stack.pop()) {
      const [node, depth] = entry;
      if (depth > YAML_MAX_DEPTH) throw tooDeep(file, lines, 'offset' in node ? node.offset : 0);
      if (node.type === 'document' && node.value) stack.push([node.value, depth]);
      if (node.type === 'block-map' || node.type === 'block-seq' || node.type === 'flow-collection') {
        for (const item of node.items) {
          if ('key' in item && item.key) stack.push([item.key, depth + 1]);
          if (item.value) stack.push([item.value, depth + 1]);
        }
      }
    }
    return token;
  };
  for (const lexeme of shallowLexemes(text, file, lines)) {
    for (const token of parser.next(lexeme)) yield check(token);
  }
  for (const token of parser.end()) yield check(token);
}

/** A scalar key as the JavaScript object the file becomes names it (the yaml library's toJS): 1 and '1' are one key. */
function jsKey(value: unknown): string {
  if (value === null) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  return JSON.stringify(value) ?? '';
}

/** Refuses the first key of a mapping that appears twice in it (one pass: a Set per mapping). */
function checkUniqueKeys(document: Document.Parsed, file: string, lines: LineCounter): void {
  const stack: unknown[] = [document.contents];
  for (let node = stack.pop(); node !== undefined; node = stack.pop()) {
    if (isSeq(node)) for (const item of node.items) stack.push(item);
    if (!isMap(node)) continue;
    const seen = new Map<string, number>();
    for (const pair of node.items) {
      if (!isPair(pair)) continue;
      const key = pair.key as YamlNode | null;
      if (isScalar(key)) {
        const name = jsKey(key.value);
        const offset = key.range?.[0] ?? 0;
        const first = seen.get(name);
        if (first !== undefined) {
          const problem = `duplicate key ${name}${at(lines, offset)} (first at line ${lines.linePos(first).line})`;
          throw new YamlFileError(file, 'parse', problem);
        }
        seen.set(name, offset);
      } else if (key !== null) {
        stack.push(key);
      }
      stack.push(pair.value);
    }
  }
}

/**
 * The value of the YAML document `text` (the file `file`; empty: null), or a
 * YamlFileError with one line: over YAML_FILE_LIMIT, the first syntax error,
 * nested too deep, a duplicate key, an alias bomb.
 */
export function parseYamlFile(text: string, file: string): unknown {
  if (text.length > YAML_FILE_LIMIT && Buffer.byteLength(text) > YAML_FILE_LIMIT) {
    throw tooBig(file, `${Buffer.byteLength(text)} bytes`);
  }
  const lines = new LineCounter();
  let document: Document.Parsed | undefined;
  // logLevel error: the yaml library would warn on stderr (process.emitWarning) of a collection as a key.
  const composer = new Composer({ uniqueKeys: false, logLevel: 'error' });
  for (const parsed of composer.compose(shallowTokens(text, file, lines), true, text.length)) {
    if (document) {
      throw new YamlFileError(
        file,
        'parse',
        `a second document${at(lines, parsed.range[0])}: a settings file holds one`,
      );
    }
    document = parsed;
  }
  if (!document) return null;
  const [syntax] = document.errors;
  if (syntax) {
    // The first error only: the ones after it are mostly its echoes.
    const message = syntax.message.split('\n')[0].replace(/:$/, '');
    throw new YamlFileError(file, 'parse', `${message}${at(lines, syntax.pos[0])}`);
  }
  checkUniqueKeys(document, file, lines);
  try {
    return document.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (error) {
    // Expanding aliases is the only step left that can fail (ReferenceError).
    const message = error instanceof Error ? error.message : String(error);
    const problem = /alias count/i.test(message)
      ? `aliases that expand more than ${MAX_ALIAS_COUNT} times (an alias bomb?)`
      : message.split('\n')[0];
    throw new YamlFileError(file, 'parse', problem);
  }
}
