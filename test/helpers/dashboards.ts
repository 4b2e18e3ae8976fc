// The Grafana dashboards in dashboards/ as the tests read them: every panel,
// every query, every template variable, the template-variable substitution
// Grafana does before a query reaches Prometheus, and the structural rules
// Grafana and these dashboards rely on.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

import { ROOT } from './paths';

export const DASHBOARD_DIR = path.join(ROOT, 'dashboards');

/** The data source reference every panel, query and query variable carries: the `datasource` variable. */
export const DATASOURCE_REF = { type: 'prometheus', uid: '${datasource}' };

/** Families that gain the Kubernetes attribution labels: their selectors must filter by namespace and pod. */
export const ATTRIBUTED_FAMILIES = [
  'kernscope_process_execs_total',
  'kernscope_syscalls_total',
  'kernscope_syscall_errors_total',
  'kernscope_syscall_duration_seconds',
  'kernscope_tcp_connections_total',
  'kernscope_tcp_connect_duration_seconds',
  'kernscope_tcp_connect_failures_total',
  'kernscope_tcp_retransmits_total',
  'kernscope_tcp_resets_total',
  'kernscope_oom_kills_total',
  'kernscope_runqueue_latency_seconds',
];

/** The variables every dashboard declares. */
export const REQUIRED_VARIABLES = ['datasource', 'node', 'namespace', 'pod'];

/** Grafana's built-in variables the queries may use. */
const GLOBALS = ['__rate_interval', '__interval', '__range'];

export interface DashboardFile {
  file: string;
  /** The file's text, as Grafana would import it. */
  text: string;
  json: Record<string, unknown>;
}

export interface PanelJson {
  id?: unknown;
  type?: unknown;
  title?: unknown;
  gridPos?: { x?: unknown; y?: unknown; w?: unknown; h?: unknown };
  datasource?: unknown;
  targets?: TargetJson[];
  panels?: PanelJson[];
}

export interface TargetJson {
  refId?: unknown;
  expr?: unknown;
  format?: unknown;
  datasource?: unknown;
}

export interface VariableJson {
  name?: unknown;
  type?: unknown;
  query?: unknown;
  datasource?: unknown;
  includeAll?: unknown;
  allValue?: unknown;
}

/** Every dashboards/*.json, parsed. */
export function loadDashboards(): DashboardFile[] {
  return readdirSync(DASHBOARD_DIR)
    .filter((name) => name.endsWith('.json'))
    .sort()
    .map((name) => {
      const file = path.join(DASHBOARD_DIR, name);
      const text = readFileSync(file, 'utf8');
      return { file, text, json: JSON.parse(text) as Record<string, unknown> };
    });
}

/** Every panel, rows and the panels inside (collapsed) rows included. */
export function panelsOf(dashboard: Record<string, unknown>): PanelJson[] {
  const walk = (panels: PanelJson[]): PanelJson[] => panels.flatMap((p) => [p, ...walk(p.panels ?? [])]);
  return walk((dashboard.panels as PanelJson[] | undefined) ?? []);
}

export function variablesOf(dashboard: Record<string, unknown>): VariableJson[] {
  return (dashboard.templating as { list?: VariableJson[] } | undefined)?.list ?? [];
}

/** A query variable's PromQL template: `query.query` (Grafana 10+) or the older plain string. */
export function variableQuery(variable: VariableJson): string | undefined {
  if (typeof variable.query === 'string') return variable.query;
  const inner = (variable.query as { query?: unknown } | undefined)?.query;
  return typeof inner === 'string' ? inner : undefined;
}

/** `label_values(selector, label)` or `label_values(label)`, as Grafana's Prometheus variable support reads it. */
export function parseLabelValues(query: string): { match?: string; label: string } | undefined {
  const m = /^\s*label_values\(\s*(?:(.*\S)\s*,\s*)?([A-Za-z_]\w*)\s*\)\s*$/.exec(query);
  if (!m) return undefined;
  return m[1] === undefined ? { label: m[2] } : { match: m[1], label: m[2] };
}

/** Regex-escapes a value the way Grafana formats a single variable value for a Prometheus `=~` matcher. */
export function regexEscape(value: string): string {
  return value.replace(/[\\^$*+?.()|[\]{}]/g, '\\$&');
}

/**
 * Substitutes `$name` and `${name}` from `values` (already formatted as the
 * query needs them); throws on a variable it has no value for, so a typo in a
 * dashboard fails rather than reaching Prometheus as text.
 */
export function substitute(text: string, values: Record<string, string>): string {
  return text.replace(/\$\{(\w+)\}|\$(\w+)/g, (whole, braced?: string, bare?: string) => {
    const name = braced ?? bare ?? '';
    const value = values[name];
    if (value === undefined) throw new Error(`no value for ${whole} in ${text}`);
    return value;
  });
}

/** The metric selectors of a PromQL expression: metric name and the text of its `{...}` matchers. */
export function selectorsOf(expr: string): { metric: string; matchers: string }[] {
  return [...expr.matchAll(/\b((?:kernscope|process|nodejs)_\w+)\s*(\{[^}]*\})?/g)].map((m) => ({
    metric: m[1],
    matchers: m[2] ?? '',
  }));
}

function isInt(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value);
}

function sameRef(value: unknown): boolean {
  const ref = value as { type?: unknown; uid?: unknown } | null | undefined;
  return ref?.type === DATASOURCE_REF.type && ref?.uid === DATASOURCE_REF.uid;
}

/**
 * What Grafana needs of a dashboard beyond its type, and what these
 * dashboards promise: declared schemaVersion 39, uid/title/tags, unique
 * integer panel ids, a gridPos inside the 24-column grid on every panel with
 * no two panels overlapping, `${datasource}` on every panel, query and query
 * variable, the four variables, rates over `$__rate_interval` (or
 * `$__range`), every selector filtered by node (and by namespace and pod for
 * the attributed families), heatmaps over `_bucket` by `le`. Returns the
 * problems, empty when there are none.
 */
export function structuralProblems(dashboard: Record<string, unknown>): string[] {
  const problems: string[] = [];
  const { schemaVersion, uid, title, tags } = dashboard;
  if (schemaVersion !== 39) problems.push(`schemaVersion is ${String(schemaVersion)}, not 39`);
  if (typeof uid !== 'string' || !/^[A-Za-z0-9_-]{8,40}$/.test(uid))
    problems.push(`uid ${String(uid)}: 8-40 of [A-Za-z0-9_-]`);
  if (typeof title !== 'string' || title === '') problems.push('no title');
  if (JSON.stringify(tags) !== JSON.stringify(['kernscope']))
    problems.push(`tags ${JSON.stringify(tags)}, not ["kernscope"]`);

  const variables = variablesOf(dashboard);
  const names = variables.map((v) => v.name);
  for (const name of REQUIRED_VARIABLES) if (!names.includes(name)) problems.push(`no variable ${name}`);
  for (const v of variables) {
    const name = String(v.name);
    if (v.type === 'datasource') {
      if (v.query !== 'prometheus') problems.push(`variable ${name}: datasource query ${String(v.query)}`);
      continue;
    }
    if (v.type !== 'query') continue;
    if (!sameRef(v.datasource)) problems.push(`variable ${name}: datasource is not \${datasource}`);
    const query = variableQuery(v);
    if (query === undefined || !parseLabelValues(query)) problems.push(`variable ${name}: query ${String(query)}`);
    if ((name === 'namespace' || name === 'pod') && (v.includeAll !== true || v.allValue !== '.*')) {
      problems.push(`variable ${name}: needs includeAll with allValue ".*"`);
    }
  }
  const known = new Set([...variables.map((v) => String(v.name)), ...GLOBALS]);

  const panels = panelsOf(dashboard);
  const ids = new Set<unknown>();
  const boxes: { title: string; x: number; y: number; w: number; h: number }[] = [];
  for (const panel of panels) {
    const where = `panel ${String(panel.id)} "${String(panel.title)}"`;
    if (!isInt(panel.id)) problems.push(`${where}: id is not an integer`);
    else if (ids.has(panel.id)) problems.push(`${where}: id used twice`);
    ids.add(panel.id);
    const g = panel.gridPos;
    if (!g || !isInt(g.x) || !isInt(g.y) || !isInt(g.w) || !isInt(g.h)) {
      problems.push(`${where}: gridPos needs integer x, y, w, h`);
    } else if (g.x < 0 || g.y < 0 || g.w < 1 || g.h < 1 || g.x + g.w > 24) {
      problems.push(`${where}: gridPos ${JSON.stringify(g)} is outside the 24-column grid`);
    } else {
      for (const other of boxes) {
        if (g.x < other.x + other.w && other.x < g.x + g.w && g.y < other.y + other.h && other.y < g.y + g.h) {
          problems.push(`${where}: overlaps "${other.title}"`);
        }
      }
      boxes.push({ title: String(panel.title), x: g.x, y: g.y, w: g.w, h: g.h });
    }
    if (panel.type === 'row') continue;
    if (!sameRef(panel.datasource)) problems.push(`${where}: datasource is not \${datasource}`);
    const targets = panel.targets ?? [];
    if (targets.length === 0) problems.push(`${where}: no targets`);
    const refIds = new Set<unknown>();
    for (const target of targets) {
      const at = `${where} target ${String(target.refId)}`;
      if (typeof target.refId !== 'string' || refIds.has(target.refId))
        problems.push(`${at}: refId missing or repeated`);
      refIds.add(target.refId);
      if (!sameRef(target.datasource)) problems.push(`${at}: datasource is not \${datasource}`);
      if (typeof target.expr !== 'string' || target.expr.trim() === '') {
        problems.push(`${at}: no expr`);
        continue;
      }
      problems.push(...exprProblems(target.expr, known).map((p) => `${at}: ${p}`));
      // Classic buckets summed by le, or a native histogram summed whole.
      const heatmapExpr =
        /by \(le\) \(rate\(\w+_bucket\{/.test(target.expr) || /^sum\(rate\(\w+_seconds\{/.test(target.expr);
      if (panel.type === 'heatmap' && (target.format !== 'heatmap' || !heatmapExpr)) {
        problems.push(
          `${at}: a heatmap needs format "heatmap" over sum by (le) (rate(..._bucket{...})) or sum(rate(NATIVE{...}))`,
        );
      }
    }
  }
  return problems;
}

function exprProblems(expr: string, known: Set<string>): string[] {
  const problems: string[] = [];
  for (const m of expr.matchAll(/\$\{?(\w+)/g)) if (!known.has(m[1])) problems.push(`unknown variable $${m[1]}`);
  for (const m of expr.matchAll(/\[([^\]]*)\]/g)) {
    if (m[1] !== '$__rate_interval' && m[1] !== '$__range') problems.push(`range [${m[1]}]: use $__rate_interval`);
  }
  for (const { metric, matchers } of selectorsOf(expr)) {
    if (!matchers.includes('node=~"$node"')) problems.push(`${metric} is not filtered by node=~"$node"`);
    const family = ATTRIBUTED_FAMILIES.find((f) => metric === f || metric.startsWith(`${f}_`));
    if (family && !(matchers.includes('namespace=~"$namespace"') && matchers.includes('pod=~"$pod"'))) {
      problems.push(`${metric} is not filtered by namespace=~"$namespace" and pod=~"$pod"`);
    }
  }
  return problems;
}
