// TopScreen: numbers in a few characters, exactly `rows` lines of at most
// `columns` characters whatever the terminal size, rows sorted on the chosen
// column, text columns shrunk before numbers, the detail table at the bottom
// when there is room.
import t from 'tap';

import type { Cell, Column, Table, TopView } from '../../src/top/TopModel';
import { formatCell, messageScreen, nextSort, renderTop } from '../../src/top/TopScreen';
import type { TopFrame } from '../../src/top/TopScreen';

const text = (heading: string): Column => ({ heading, kind: 'text' });
const ROW_COLUMNS = [text('NAMESPACE'), text('POD'), text('CONTAINER')];

const SYSCALLS: TopView = {
  name: 'syscalls',
  sortBy: 3,
  table: {
    columns: [...ROW_COLUMNS, { heading: 'SYSCALLS/s', kind: 'rate' }, text('BUSIEST')],
    rows: [
      ['host', '', 'sshd.service', 120, 'read 50%'],
      ['default', 'web-7d4f9c8b6-x2kzq', 'nginx', 45600, 'epoll_wait 61%'],
      ['host', '', 'kernscope-test-12345-abcdefgh', 2.5e6, 'getppid 100%'],
    ],
  },
  detail: {
    title: 'syscall errors, node-wide',
    columns: [text('SYSCALL'), text('ERRNO'), { heading: 'ERRORS/s', kind: 'rate' }],
    rows: [
      ['close', 'EBADF', 3],
      ['openat', 'ENOENT', 592],
    ],
  },
};

const LATENCY: TopView = {
  name: 'runqueue',
  sortBy: 4,
  table: {
    columns: [
      ...ROW_COLUMNS,
      { heading: 'RUNQ p50', kind: 'seconds' },
      { heading: 'RUNQ p99', kind: 'seconds' },
      { heading: 'WAITS/s', kind: 'rate' },
    ],
    rows: [
      ['host', '', 'a.service', 1e-5, 2e-3, 10],
      ['host', '', 'b.service', undefined, undefined, 0],
      ['host', '', 'c.service', 2e-6, 3e-2, 5],
    ],
  },
};

const frame = (views: TopView[], view: number, sort: number, columns: number, rows: number): TopFrame => ({
  views,
  view,
  sort,
  status: 'kernscope top  12:00:01  the last 1.0 s',
  columns,
  rows,
});

/** The CONTAINER cells of the table's rows, in screen order. */
function containers(lines: string[]): string[] {
  const header = lines.findIndex((l) => l.startsWith('NAMESPACE'));
  const at = lines[header].indexOf('CONTAINER');
  const rows: string[] = [];
  for (const line of lines.slice(header + 1)) {
    if (!/^\S+ +\S/.test(line)) break;
    rows.push(line.slice(at).split(' ')[0]);
  }
  return rows;
}

void t.test('formatCell: rates, bytes and seconds in at most six characters; "-" for nothing', (t) => {
  const cases: [Cell, Column['kind'], string][] = [
    [0, 'rate', '0'],
    [0.25, 'rate', '0.25'],
    [12.5, 'rate', '12.5'],
    [950, 'rate', '950'],
    [999.7, 'rate', '1k'],
    [1234, 'rate', '1.23k'],
    [45_600_000, 'rate', '45.6M'],
    [1023, 'bytes', '1023'],
    [1536, 'bytes', '1.5K'],
    [3 * 2 ** 30, 'bytes', '3G'],
    [5e-9, 'seconds', '5ns'],
    [850e-6, 'seconds', '850us'],
    [0.0123, 'seconds', '12.3ms'],
    [2.1, 'seconds', '2.1s'],
    [undefined, 'seconds', '-'],
    ['', 'text', '-'],
    ['nginx', 'text', 'nginx'],
  ];
  for (const [cell, kind, expected] of cases) t.equal(formatCell(cell, kind), expected, `${cell} ${kind}`);
  t.end();
});

void t.test('80 columns: title with the views and keys, status, header, rows largest first, the detail below', (t) => {
  const lines = renderTop(frame([SYSCALLS, LATENCY], 0, 3, 80, 12));
  t.same(lines, [
    '[1 syscalls] 2 runqueue   Tab:view s:sort q:quit',
    'kernscope top  12:00:01  the last 1.0 s  sorted by SYSCALLS/s',
    'NAMESPACE  POD                  CONTAINER             SYSCALLS/s  BUSIEST',
    'host       -                    kernscope-test-1234~        2.5M  getppid 100%',
    'default    web-7d4f9c8b6-x2kzq  nginx                      45.6k  epoll_wait 61%',
    'host       -                    sshd.service                 120  read 50%',
    '',
    '',
    'syscall errors, node-wide',
    'SYSCALL  ERRNO   ERRORS/s',
    'openat   ENOENT       592',
    'close    EBADF          3',
  ]);
  t.end();
});

void t.test('any size: exactly `rows` lines of at most `columns` characters', (t) => {
  const many: TopView = {
    ...SYSCALLS,
    table: {
      ...SYSCALLS.table,
      rows: Array.from({ length: 60 }, (_, i) => ['host', '', `unit-${i}-with-a-long-name.service`, i, 'read 1%']),
    },
  };
  for (const columns of [1, 10, 40, 80, 200]) {
    for (const rows of [1, 2, 4, 8, 24, 70]) {
      for (const view of [many, SYSCALLS, LATENCY]) {
        const lines = renderTop(frame([view], 0, view.sortBy, columns, rows));
        t.equal(lines.length, rows, `${view.name} ${columns}x${rows}: ${rows} lines`);
        t.ok(
          lines.every((l) => l.length <= columns),
          `${view.name} ${columns}x${rows}: none longer than ${columns}`,
        );
      }
    }
  }
  t.end();
});

void t.test('narrow: text columns shrink, widest first, numbers stay whole', (t) => {
  const lines = renderTop(frame([SYSCALLS], 0, 3, 40, 6));
  t.same(lines.slice(2), [
    'NAME~  POD    CONTA~  SYSCALLS/s  BUSIE~',
    'host   -      kerns~        2.5M  getpp~',
    'defa~  web-~  nginx        45.6k  epoll~',
    'host   -      sshd.~         120  read ~',
  ]);
  t.end();
});

void t.test('sorted on the chosen column, rows without a number last; s moves to the next number', (t) => {
  const views = [SYSCALLS, LATENCY];
  t.same(containers(renderTop(frame(views, 1, 4, 80, 24))), ['c.service', 'a.service', 'b.service'], 'by RUNQ p99');
  t.same(containers(renderTop(frame(views, 1, 5, 80, 24))), ['a.service', 'c.service', 'b.service'], 'by WAITS/s');
  t.match(renderTop(frame(views, 1, 5, 80, 24))[1], /sorted by WAITS\/s$/);
  t.match(renderTop(frame(views, 1, 5, 80, 24))[0], /^ 1 syscalls \[2 runqueue\] /, 'the view shown in brackets');
  t.same(renderTop(frame(views, 1, 4, 80, 24))[5], 'host       -    b.service         -         -        0');
  t.equal(nextSort(LATENCY.table, 3), 4);
  t.equal(nextSort(LATENCY.table, 4), 5);
  t.equal(nextSort(LATENCY.table, 5), 3, 'wraps to the first number');
  t.equal(nextSort(SYSCALLS.table, 3), 3, 'one number: stays');
  t.end();
});

void t.test('more rows than room: the main table keeps two thirds, the status says how many are shown', (t) => {
  const rowsOf = (n: number, name: string): Cell[][] =>
    Array.from({ length: n }, (_, i) => ['host', '', `${name}-${i}`, n - i, 'read 1%']);
  const detail = { ...SYSCALLS.detail!, rows: Array.from({ length: 30 }, (_, i): Cell[] => [`s${i}`, 'EIO', 30 - i]) };
  const crowded: TopView = { ...SYSCALLS, table: { ...SYSCALLS.table, rows: rowsOf(40, 'unit') }, detail };
  const lines = renderTop(frame([crowded], 0, 3, 80, 24));
  t.match(lines[1], /sorted by SYSCALLS\/s {2}14 of 40 rows$/);
  t.same(
    containers(lines),
    rowsOf(14, 'unit').map((r) => r[2]),
  );
  t.same(lines.slice(17, 21), [
    '',
    'syscall errors, node-wide',
    'SYSCALL  ERRNO  ERRORS/s',
    's0       EIO          30',
  ]);
  t.equal(lines[23], 's3       EIO          27', 'the detail fills the last line');

  const few: TopView = { ...crowded, table: { ...crowded.table, rows: rowsOf(2, 'unit') } };
  const roomy = renderTop(frame([few], 0, 3, 80, 24));
  t.same(containers(roomy), ['unit-0', 'unit-1']);
  t.same(roomy.slice(5, 9), ['', 'syscall errors, node-wide', 'SYSCALL  ERRNO  ERRORS/s', 's0       EIO          30']);
  t.equal(roomy[23], 's15      EIO          15', 'the detail takes what the main rows leave');

  t.notOk(
    renderTop(frame([crowded], 0, 3, 80, 6)).includes('syscall errors, node-wide'),
    'no detail without room for one of its rows',
  );
  t.end();
});

void t.test('nothing moved: one line says so, in the table and in the detail', (t) => {
  const idle: TopView = {
    ...SYSCALLS,
    table: { ...SYSCALLS.table, rows: [] },
    detail: { ...SYSCALLS.detail!, rows: [] },
  };
  const lines = renderTop(frame([idle], 0, 3, 80, 10));
  t.same(lines, [
    '[1 syscalls]  Tab:view s:sort q:quit',
    'kernscope top  12:00:01  the last 1.0 s  sorted by SYSCALLS/s',
    'NAMESPACE  POD  CONTAINER  SYSCALLS/s  BUSIEST',
    'no activity in the interval',
    '',
    '',
    '',
    'syscall errors, node-wide',
    'SYSCALL  ERRNO  ERRORS/s',
    'none in the interval',
  ]);
  t.end();
});

void t.test('messageScreen: a title and the message, padded to the screen', (t) => {
  t.same(messageScreen('loading probes...', 12, 4), ['kernscope to', '', 'loading prob', '']);
  t.end();
});

void t.test('a table is not changed by rendering it', (t) => {
  const table: Table = { columns: LATENCY.table.columns, rows: LATENCY.table.rows.map((r) => [...r]) };
  renderTop(frame([{ ...LATENCY, table }], 0, 5, 80, 24));
  t.same(table.rows, LATENCY.table.rows, 'sorting works on a copy');
  t.end();
});
