// Misusing the addon from JS throws (TypeError for misuse, BpfError for libbpf
// failures) and never crashes the process. Each case runs in its own child so
// a native crash fails that case, not the runner.
import path from 'node:path';

import t from 'tap';

import type { Outcome } from './fixtures/misuse-child';
import { CASE_NAMES } from './fixtures/misuse-child';
import { possibleCpus } from '../helpers/cpus';
import { runNode } from '../helpers/process';

const CHILD = path.join(__dirname, 'fixtures', 'misuse-child.js');

/** What t.match checks an outcome against: values, or patterns for strings. */
type Pattern = { [K in keyof Outcome]?: Outcome[K] | RegExp };

const typeError = (message: RegExp): Pattern => ({ threw: true, ctor: 'TypeError', typeError: true, message });
const closed = typeError(/BPF object is closed/);
const ok = (value?: unknown): Pattern => (value === undefined ? { threw: false } : { threw: false, value });
const bpfError = (code: string | RegExp, op: RegExp): Pattern => ({
  threw: true,
  ctor: 'BpfError',
  bpfError: true,
  typeError: false,
  code,
  op,
});

const EVERY_METHOD = [
  'programs',
  'maps',
  'setAutoload',
  'setMaxEntries',
  'setConstant',
  'recordLayout',
  'enumValues',
  'load',
  'attach',
  'lookup',
  'entries',
  'programStats',
  'testRun',
  'RingReader',
  'setAutocreate',
  'freezeMap',
];

const EXPECTED: Record<string, Record<string, Pattern>> = {
  'closed before load': { ...Object.fromEntries(EVERY_METHOD.map((m) => [m, closed])), closed: ok(true) },
  'closed after load': { ...Object.fromEntries(EVERY_METHOD.map((m) => [m, closed])), closed: ok(true) },
  'unknown names': {
    setAutoload: typeError(/'nope_prog'/),
    setMaxEntries: typeError(/'nope_map'/),
    setConstant: typeError(/'nope_const'/),
    recordLayout: typeError(/'nope_struct'/),
    enumValues: typeError(/'nope_enum'/),
    attach: typeError(/'nope_prog'/),
    attachKind: typeError(/nope_kind.*unknown attach kind/),
    lookup: typeError(/'nope_map'/),
    entries: typeError(/'nope_map'/),
    testRun: typeError(/'nope_prog'/),
    RingReader: typeError(/'nope_map'/),
  },
  'wrong types': {
    pathNumber: typeError(/file path or a Uint8Array/),
    nameNumber: typeError(/object name must be a string/),
    bytesUint16: typeError(/Uint8Array/),
    mapNameNumber: typeError(/map name must be a string/),
    entriesString: typeError(/max entries must be an integer from 1 to 4294967295/),
    autoloadString: typeError(/autoload must be a boolean/),
    constantArray: typeError(/constant value must be a Uint8Array/),
    constantUint16: typeError(/constant value must be a Uint8Array/),
    keyString: typeError(/key must be a Uint8Array/),
    keyNumber: typeError(/key must be a Uint8Array/),
    programNameNumber: typeError(/program name must be a string/),
    testRunArgsString: typeError(/array of numbers/),
    testRunArgString: typeError(/must be numbers/),
    readerPlainObject: typeError(/BpfObject/),
    readerMapNumber: typeError(/map name must be a string/),
  },
  'link as object': { linkAsObject: typeError(/BpfObject/) },
  'reader as object': { readerAsObject: typeError(/BpfObject/) },
  'absurd sizes': {
    ...Object.fromEntries(
      ['2pow40', '2pow32', 'Negative', 'Zero', 'Fraction', 'NaN', 'Infinity'].map((n) => [
        `maxEntries${n}`,
        typeError(/^max entries must be an integer from 1 to 4294967295$/),
      ]),
    ),
    hugeConstant: typeError(/'loadgen_batch' is 4 bytes, got 67108864/),
    emptyConstant: typeError(/'loadgen_batch' is 4 bytes, got 0/),
    loadLargestU32Ring: bpfError('EINVAL', /^load misuse$/),
    emptyKey: typeError(/'drops' must be 4 bytes/),
    hugeKey: typeError(/'drops' must be 4 bytes/),
    testRunNoArgs: { ...bpfError('EINVAL', /^test run loadgen$/), message: /0 context arguments given/ },
    testRun13Args: typeError(/at most 12 arguments, got 13$/),
    testRunMillionArgs: typeError(/at most 12 arguments, got 1000000$/),
    testRunSparseArgs: typeError(/at most 12 arguments, got 4294967295$/),
    testRunNaN: typeError(/must be integers .*, got NaN$/),
    testRunFraction: typeError(/must be integers .*, got 1\.5$/),
    testRunInfinity: typeError(/must be integers .*, got Infinity$/),
    testRun2pow70: typeError(/must be integers .*, got 1\.18\d*e\+21$/),
    testRunNegative: ok(0),
  },
  'names with NUL': {
    mapName: typeError(/^map name must not contain NUL$/),
    programName: typeError(/^program name must not contain NUL$/),
    constantName: typeError(/^constant name must not contain NUL$/),
    structName: typeError(/^struct name must not contain NUL$/),
    objectName: typeError(/^object name must not contain NUL$/),
    attachTarget: typeError(/^attach target must not contain NUL$/),
    attachTargetNumber: typeError(/^attach target must be a string$/),
  },
  'uncreated map': {
    lookup: typeError(/^map 'process_forks' was not created \(autocreate off\)$/),
    entries: typeError(/^map 'process_forks' was not created \(autocreate off\)$/),
    freezeMap: typeError(/^map 'process_forks' was not created \(autocreate off\)$/),
  },
  'frozen and ring maps': {
    lookupRing: { ...bpfError('ENOTSUPP', /^lookup in events$/), message: /not supported for this map/ },
    entriesRing: { ...bpfError('ENOTSUPP', /^iterate events$/), message: /not supported for this map/ },
    freezeMappedRing: { ...bpfError('EBUSY', /^freeze events$/), message: /mapped writable/ },
    freeze: ok(),
    freezeAgain: { ...bpfError('EPERM', /^freeze drops$/), message: /frozen already/ },
    lookupFrozen: ok(), // reads still work
    readerStillReads: ok(1 << 20),
    freezeUnmappedRing: ok(), // allowed by the kernel: ProbeLoader never freezes a ring
    readerOfFrozenRing: bpfError('EPERM', /^mmap ring buffer$/),
  },
  'wrong this': {
    ...Object.fromEntries(
      [
        'lookupOnReader',
        'lookupOnLink',
        'lookupOnPlainObject',
        'closeOnLink',
        'watchOnObject',
        'readerCloseOnLink',
        'destroyOnObject',
        'destroyOnReader',
      ].map((label) => [label, typeError(/^Illegal invocation$/)]),
    ),
    withoutNew: typeError(/without 'new'/),
  },
  'missing file': { open: { ...bpfError('ENOENT', /^open .*x\.bpf\.o$/), errno: 2 } },
  'corrupt object': {
    random: bpfError(/^E/, /^open random$/),
    elfMagicThenGarbage: bpfError(/^E/, /^open garbage$/),
    truncated: bpfError(/^E/, /^open truncated$/),
    empty: bpfError(/^E/, /^open empty$/),
  },
  'wrong state': {
    attach: typeError(/call load\(\) first/),
    lookup: typeError(/call load\(\) first/),
    entries: typeError(/call load\(\) first/),
    testRun: typeError(/call load\(\) first/),
    programStats: typeError(/call load\(\) first/),
    RingReader: typeError(/call load\(\) first/),
    freezeMap: typeError(/call load\(\) first/),
    loadAgain: typeError(/before load\(\)/),
    setMaxEntries: typeError(/before load\(\)/),
    setConstant: typeError(/before load\(\)/),
    setAutoload: typeError(/before load\(\)/),
    setAutocreate: typeError(/before load\(\)/),
    attachNotLoaded: typeError(/exec_tracepoint.*not loaded/),
    rawTpWithoutTarget: typeError(/needs a target/),
  },
  'constants and keys': {
    constantTooShort: typeError(/'wakeup_bytes' is 8 bytes, got 4/),
    constantTooLong: typeError(/'targ_tgid' is 4 bytes, got 8/),
    constantUnknown: typeError(/'no_such_constant'/),
    constantOk: ok(),
    keyTooLong: typeError(/'drops' must be 4 bytes/),
    keyTooShort: typeError(/'drops' must be 4 bytes/),
    keyOk: ok(), // one u64 slot per possible CPU, checked below
    keyAbsent: ok(null),
  },
  'ring reader misuse': {
    notRingbuf: typeError(/'drops' is not a ring buffer/),
    size: ok(4096),
    producerBytes: ok(8192), // the data pages, mapped twice in a row
    consumerBytes: ok(4096), // one page
    consumerPosition: ok(0),
    watchNotFunction: typeError(/callback function/),
    watch: ok(),
    watchTwice: typeError(/already watched/),
    watchIntervalFraction: typeError(/watch interval must be a whole number of milliseconds/),
    watchIntervalString: typeError(/watch interval must be a whole number of milliseconds/),
    watchAfterObjectClose: typeError(/ring reader is closed/),
    readerCloseAfterObjectClose: ok(),
    readDataAfterObjectClose: ok(true), // still mapped: the buffer owns its mapping
    watchAfterReaderClose: typeError(/ring reader is closed/),
    producerAfterReaderClose: ok(0), // detached by close()
    consumerAfterReaderClose: ok(0),
    readerCloseAgain: ok(),
  },
  'ring data outlives reader and object': {
    byteLength: ok(8192),
    firstRecordLength: ok(184), // the first loadgen record is still readable
  },
  'double close': {
    linkDestroy: ok(),
    linkDestroyAgain: ok(),
    linkDestroyed: ok(true),
    readerClose: ok(),
    readerCloseAgain: ok(),
    close: ok(),
    closeAgain: ok(),
    closed: ok(true),
    linkDestroyedByObjectClose: ok(true),
    linkDestroyAfterObjectClose: ok(),
  },
};

t.same(Object.keys(EXPECTED).sort(), [...CASE_NAMES].sort(), 'every child case has expectations');

for (const name of CASE_NAMES) {
  void t.test(name, async (t) => {
    const child = await runNode(CHILD, [name], 20000);
    const exitedCleanly = t.same(
      { code: child.code, signal: child.signal, timedOut: child.timedOut },
      { code: 0, signal: null, timedOut: false },
      'child exits 0 (no native crash)',
    );
    if (!exitedCleanly) {
      t.comment(child.stderr);
      return;
    }
    const outcomes = JSON.parse(child.stdout) as Record<string, Outcome>;
    const expected = EXPECTED[name];
    t.same(Object.keys(outcomes).sort(), Object.keys(expected).sort(), 'every call reported');
    for (const [label, want] of Object.entries(expected)) t.match(outcomes[label], want, label);
  });
}

void t.test('per-CPU lookup returns one 8-byte slot per possible CPU', async (t) => {
  const child = await runNode(CHILD, ['constants and keys'], 20000);
  t.equal(child.code, 0);
  const outcomes = JSON.parse(child.stdout || '{}') as Record<string, Outcome>;
  t.equal(outcomes.keyOk?.value, 8 * possibleCpus());
});
