// A YAML settings file that cannot be used: too big to read, or not YAML
// kernscope will parse (a syntax error, too deep, a duplicated key, an alias
// bomb). Each reader turns it into its own error (OptionError, UserProbeError)
// naming the file in one line.
export class YamlFileError extends Error {
  constructor(
    readonly file: string,
    /** What failed: reading the file, or parsing its text. */
    readonly verb: 'read' | 'parse',
    /** One line, without the file: `duplicate key listen at line 3, column 1 (first at line 1)`. */
    readonly problem: string,
  ) {
    super(`cannot ${verb} ${file}: ${problem}`);
    this.name = 'YamlFileError';
  }
}
