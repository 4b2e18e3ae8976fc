// Type-checks Grafana dashboard JSON against Grafana's own TypeScript model of
// it (@grafana/schema): the TypeScript compiler checks each file's JSON as an
// object literal assigned to the dashboard type, so a missing required field,
// a wrong type, a value outside an enum or a misspelt key (excess-property
// check) is a compile error pointing at the line of the JSON.
import path from 'node:path';

import ts from 'typescript';

import { ROOT } from './paths';

const PANELCFG = '@grafana/schema/dist/types/raw/composable';

/**
 * The type the JSON must satisfy, written over @grafana/schema's exports:
 * `Dashboard` (the dashboard kind, dist/types/index.d.ts -> veneer and raw
 * dashboard types) with each panel narrowed by its `type` to the plugin's own
 * panelcfg kind (Options and FieldConfig of timeseries, stat, table,
 * heatmap), and targets to Grafana's Prometheus query model (PromQuery, not in
 * @grafana/schema: its fields are listed here). JSON cannot spell a
 * TypeScript string enum, so string enums are read as their string values
 * (`Json<T>`); numeric enums stay as they are.
 */
const PRELUDE = `
import type { Dashboard, DataQuery, FieldConfig, FieldConfigSource, Panel, RowPanel } from '@grafana/schema';
import type * as timeseries from '${PANELCFG}/timeseries/panelcfg/x/types.gen';
import type * as stat from '${PANELCFG}/stat/panelcfg/x/types.gen';
import type * as table from '${PANELCFG}/table/panelcfg/x/types.gen';
import type * as heatmap from '${PANELCFG}/heatmap/panelcfg/x/types.gen';

type Json<T> = T extends string
  ? \`\${T}\`
  : T extends readonly (infer U)[]
    ? Json<U>[]
    : T extends object
      ? { [K in keyof T]: Json<T[K]> }
      : T;

interface PromQuery extends DataQuery {
  expr: string;
  legendFormat?: string;
  format?: 'time_series' | 'table' | 'heatmap';
  instant?: boolean;
  range?: boolean;
  interval?: string;
  intervalFactor?: number;
  editorMode?: 'code' | 'builder';
  exemplar?: boolean;
}

type PluginPanel<Type extends string, Options, Custom> = Omit<Panel, 'type' | 'options' | 'fieldConfig' | 'targets'> & {
  type: Type;
  options: Options;
  fieldConfig: { defaults: Omit<FieldConfig, 'custom'> & { custom?: Custom }; overrides: FieldConfigSource['overrides'] };
  targets: PromQuery[];
};

type KernscopePanel =
  | PluginPanel<'timeseries', timeseries.Options, timeseries.FieldConfig>
  | PluginPanel<'stat', stat.Options, never>
  | PluginPanel<'table', table.Options, table.FieldConfig>
  | PluginPanel<'heatmap', heatmap.Options, heatmap.FieldConfig>;

type KernscopeRow = Omit<RowPanel, 'panels'> & { panels: KernscopePanel[] };

type KernscopeDashboard = Omit<Dashboard, 'panels'> & { panels: Array<KernscopePanel | KernscopeRow> };
`;

const PRELUDE_LINES = PRELUDE.split('\n').length;

/** The compiler's complaints about one file, as `file:line: message`. */
export interface SchemaResult {
  file: string;
  errors: string[];
}

/**
 * Type-checks each `{ file, text }` (dashboard JSON) in one TypeScript
 * program: first against KernscopeDashboard as an object literal (excess
 * properties are errors), then the same value against plain Json<Dashboard>.
 */
export function checkDashboardTypes(files: { file: string; text: string }[]): SchemaResult[] {
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: [],
    lib: ['lib.es2022.d.ts'],
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.CommonJS,
    moduleResolution: ts.ModuleResolutionKind.Node10,
  };
  // Virtual sources beside the repository's node_modules, so @grafana/schema resolves from them.
  const sources = new Map(
    files.map(({ file, text }, i) => [
      path.join(ROOT, 'dashboards', `.schema-check-${i}.ts`),
      {
        file,
        code: `${PRELUDE}\nexport const dashboard: Json<KernscopeDashboard> =\n${text};\nexport const grafana: Json<Dashboard> = dashboard;\n`,
      },
    ]),
  );
  const host = ts.createCompilerHost(options);
  const base = { ...host };
  host.getSourceFile = (name, version, ...rest) => {
    const source = sources.get(name);
    return source ? ts.createSourceFile(name, source.code, version) : base.getSourceFile(name, version, ...rest);
  };
  host.fileExists = (name) => sources.has(name) || base.fileExists(name);
  host.readFile = (name) => sources.get(name)?.code ?? base.readFile(name);
  const program = ts.createProgram([...sources.keys()], options, host);

  const global = ts.getPreEmitDiagnostics(program).filter((d) => !d.file || !sources.has(d.file.fileName));
  if (global.length > 0)
    throw new Error(`the schema check itself does not compile:\n${describe(global, 0).join('\n')}`);
  return [...sources.entries()].map(([name, { file }]) => {
    const sourceFile = program.getSourceFile(name)!;
    const diagnostics = [...program.getSyntacticDiagnostics(sourceFile), ...program.getSemanticDiagnostics(sourceFile)];
    return { file, errors: describe(diagnostics, PRELUDE_LINES + 1, file) };
  });
}

function describe(diagnostics: readonly ts.Diagnostic[], offset: number, file?: string): string[] {
  return diagnostics.map((d) => {
    const message = ts.flattenDiagnosticMessageText(d.messageText, '\n');
    if (!d.file || d.start === undefined) return message;
    const line = d.file.getLineAndCharacterOfPosition(d.start).line + 1 - offset;
    return `${file ?? d.file.fileName}:${line}: ${message}`;
  });
}
