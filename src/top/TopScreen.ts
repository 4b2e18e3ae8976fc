// One screen of `kernscope top` as text: exactly `rows` lines of at most
// `columns` characters (no escape sequences; the caller positions them). A
// title line with the views and keys, a status line, the view's header and
// rows sorted on the chosen column, then the view's node-wide detail table
// if it has one and there is room. Text columns shrink (widest first) so
// that the numbers stay whole; what still does not fit is cut off.
import type { Cell, Column, ColumnKind, Table, TopView } from './TopModel';

export interface TopFrame {
  views: readonly TopView[];
  /** The view shown (index into views). */
  view: number;
  /** The column of the view's table its rows are sorted on, largest first. */
  sort: number;
  /** What only the caller knows: time, interval, probes that did not attach. */
  status: string;
  columns: number;
  rows: number;
}

export const KEYS = 'Tab:view s:sort q:quit';

const SEPARATOR = '  ';
/** A text column is not shrunk below this. */
const MIN_TEXT_WIDTH = 3;
/** Lines the title, status and header take. */
const HEAD_LINES = 3;

/** `n` with at most 3 significant digits, scaled by `base` into `units`: 0.25, 12.5, 950, 1.23k, 45.6M. */
function compact(n: number, base: number, units: readonly string[]): string {
  let value = n;
  let unit = 0;
  while (unit < units.length - 1 && value >= base - 0.5) {
    value /= base;
    unit++;
  }
  const digits = value >= 99.95 ? 0 : value >= 9.995 ? 1 : 2;
  return `${Number(value.toFixed(digits))}${units[unit]}`;
}

const SECOND_UNITS: readonly (readonly [name: string, seconds: number])[] = [
  ['s', 1],
  ['ms', 1e-3],
  ['us', 1e-6],
  ['ns', 1e-9],
];

export function formatCell(cell: Cell, kind: ColumnKind): string {
  if (cell === undefined || cell === '') return '-';
  if (typeof cell === 'string') return cell;
  switch (kind) {
    case 'rate':
      return compact(cell, 1000, ['', 'k', 'M', 'G', 'T']);
    case 'bytes':
      return compact(cell, 1024, ['', 'K', 'M', 'G', 'T']);
    case 'seconds': {
      const [name, unit] = SECOND_UNITS.find(([, s]) => cell >= s) ?? SECOND_UNITS[SECOND_UNITS.length - 1];
      return `${compact(cell / unit, Infinity, [''])}${name}`;
    }
    case 'text':
      return String(cell);
  }
}

const isNumeric = (column: Column): boolean => column.kind !== 'text';

/** The numeric column after `current`, wrapping around: what `s` switches the sort to. */
export function nextSort(table: Table, current: number): number {
  const numeric = table.columns.flatMap((c, i) => (isNumeric(c) ? [i] : []));
  return numeric.find((i) => i > current) ?? numeric[0] ?? current;
}

/** Rows by `column`, largest first, rows without a number last; ties by their text. */
function sorted(table: Table, column: number): Cell[][] {
  const text = (row: Cell[]): string => row.filter((c) => typeof c === 'string').join('\u0000');
  const value = (row: Cell[]): number => (typeof row[column] === 'number' ? row[column] : -Infinity);
  return [...table.rows].sort((a, b) => value(b) - value(a) || text(a).localeCompare(text(b)));
}

function fit(text: string, width: number, right: boolean): string {
  if (text.length > width) return width > 1 ? `${text.slice(0, width - 1)}~` : text.slice(0, width);
  return right ? text.padStart(width) : text.padEnd(width);
}

/** The table's header and rows as lines: numbers whole, text columns shrunk (widest first) to fit `columns`. */
function tableLines(table: Table, rows: Cell[][], columns: number): { header: string; rows: string[] } {
  const cells = rows.map((row) => row.map((cell, i) => formatCell(cell, table.columns[i].kind)));
  const widths = table.columns.map((c, i) => Math.max(c.heading.length, ...cells.map((row) => row[i].length)));
  let excess = widths.reduce((a, b) => a + b, 0) + SEPARATOR.length * (widths.length - 1) - columns;
  while (excess > 0) {
    let widest = -1;
    table.columns.forEach((c, i) => {
      if (!isNumeric(c) && widths[i] > MIN_TEXT_WIDTH && (widest < 0 || widths[i] > widths[widest])) widest = i;
    });
    if (widest < 0) break;
    widths[widest]--;
    excess--;
  }
  const line = (texts: string[]): string =>
    texts
      .map((text, i) => fit(text, widths[i], isNumeric(table.columns[i])))
      .join(SEPARATOR)
      .trimEnd()
      .slice(0, columns);
  return { header: line(table.columns.map((c) => c.heading)), rows: cells.map(line) };
}

function titleLine(views: readonly TopView[], current: number): string {
  const names = views.map((v, i) => (i === current ? `[${i + 1} ${v.name}]` : ` ${i + 1} ${v.name} `));
  return `${names.join('')}  ${KEYS}`;
}

/** `lines` cut to `columns` and padded with empty lines (or cut) to exactly `rows`. */
function screen(lines: string[], columns: number, rows: number): string[] {
  const fitted = lines.slice(0, rows).map((l) => l.slice(0, columns));
  return [...fitted, ...new Array<string>(Math.max(0, rows - fitted.length)).fill('')];
}

/** A screen holding only a title and a message (start-up). */
export function messageScreen(message: string, columns: number, rows: number): string[] {
  return screen(['kernscope top', '', message], columns, rows);
}

export function renderTop(frame: TopFrame): string[] {
  const { columns, rows } = frame;
  const view = frame.views[frame.view];
  const room = Math.max(0, rows - HEAD_LINES);
  const mainRows = sorted(view.table, frame.sort);
  // The detail takes a blank line, its title and header and at least one row, and
  // at most what the main rows leave or a third of the room, whichever is more.
  const detailRows = view.detail ? sorted(view.detail, view.detail.columns.findIndex(isNumeric)) : [];
  const detailWanted = view.detail ? 3 + Math.max(1, detailRows.length) : 0;
  const detailRoom = Math.min(detailWanted, Math.max(room - Math.max(1, mainRows.length), Math.floor(room / 3)));
  const detailLines = detailRoom >= 4 ? detailRoom : 0;
  const mainShown = mainRows.slice(0, room - detailLines);

  const main = tableLines(view.table, mainShown, columns);
  const more = mainShown.length < mainRows.length ? `  ${mainShown.length} of ${mainRows.length} rows` : '';
  const lines = [
    titleLine(frame.views, frame.view),
    `${frame.status}  sorted by ${view.table.columns[frame.sort].heading}${more}`,
    main.header,
    ...(mainRows.length > 0 ? main.rows : ['no activity in the interval']),
  ];
  if (view.detail && detailLines > 0) {
    const detail = tableLines(view.detail, detailRows.slice(0, detailLines - 3), columns);
    const padding = new Array<string>(rows - detailLines - lines.length).fill('');
    lines.push(...padding, '', view.detail.title, detail.header);
    lines.push(...(detailRows.length > 0 ? detail.rows : ['none in the interval']));
  }
  return screen(lines, columns, rows);
}
