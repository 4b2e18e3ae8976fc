// A command's option list as help text: the flags in a column, what each does
// beside it, wrapped to a terminal's width.
import type { FlagHelp } from '../config/settingFlags';

const WIDTH = 100;

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  return [...lines, line];
}

export function optionsText(options: readonly FlagHelp[]): string {
  const column = 2 + Math.max(...options.map((o) => o.usage.length)) + 2;
  const indent = ' '.repeat(column);
  return options
    .map(({ usage, help }) => {
      const [first, ...rest] = wrap(help, WIDTH - column);
      return [`  ${usage}`.padEnd(column) + first, ...rest.map((line) => indent + line)].join('\n');
    })
    .join('\n');
}
