#!/usr/bin/env node
// The import direction of src/ (STYLE.md 17), checked by `make lint`: every
// folder sits on a layer, and imports (type-only ones too) go to its own layer
// or lower ones; no two folders import each other; no file cycle. The layers
// follow the data path, bottom up.
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

const LAYERS = [
  ['log', 'native', 'yamlfile'],
  ['kernel'],
  ['probes'],
  ['decode', 'drain'],
  ['aggregate', 'enrich'],
  ['userprobes'],
  ['config'],
  ['load', 'export'],
  ['agent', 'trace', 'top'],
  ['cli'],
  ['index'],
];

const SRC = 'src';
const layerOf = new Map(LAYERS.flatMap((folders, level) => folders.map((folder) => [folder, level])));

/** A file's folder under src/ (`log` for src/log.ts, `index` for src/index.ts). */
function folderOf(file) {
  const [first] = path.relative(SRC, file).split(path.sep);
  return first.replace(/\.ts$/, '');
}

function sourceFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return entry.name.endsWith('.ts') ? [full] : [];
  });
}

/** The src/ files `file` imports (relative imports only). */
function importsOf(file) {
  const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
  return importedFiles
    .map((imported) => imported.fileName)
    .filter((name) => name.startsWith('.'))
    .map((name) => {
      const target = path.normalize(path.join(path.dirname(file), name));
      return [`${target}.ts`, path.join(target, 'index.ts')].find((candidate) => existsSync(candidate)) ?? target;
    });
}

const problems = [];
const files = sourceFiles(SRC);
const graph = new Map(files.map((file) => [file, importsOf(file)]));
const folderEdges = new Map();

for (const [file, targets] of graph) {
  const from = folderOf(file);
  if (!layerOf.has(from)) problems.push(`${file}: folder ${from} has no layer in scripts/check-imports.mjs`);
  for (const target of targets) {
    const to = folderOf(target);
    if (from === to) continue;
    if (layerOf.get(to) > layerOf.get(from)) {
      problems.push(`${file} imports ${target}: ${from} may not import ${to}, a layer above it`);
    }
    if (!folderEdges.has(from)) folderEdges.set(from, new Map());
    folderEdges.get(from).set(to, `${file} -> ${target}`);
  }
}

for (const [from, targets] of folderEdges) {
  for (const [to, example] of targets) {
    const back = folderEdges.get(to)?.get(from);
    if (back && from < to) problems.push(`folders ${from} and ${to} import each other: ${example}; ${back}`);
  }
}

// File cycles: a depth-first walk; a file met again while still on the path closes one.
const state = new Map();
const stack = [];
function walk(file) {
  if (state.get(file) === 'done') return;
  if (state.get(file) === 'open') {
    problems.push(`import cycle: ${[...stack.slice(stack.indexOf(file)), file].join(' -> ')}`);
    return;
  }
  state.set(file, 'open');
  stack.push(file);
  for (const target of graph.get(file) ?? []) walk(target);
  stack.pop();
  state.set(file, 'done');
}
for (const file of files) walk(file);

for (const problem of problems) console.error(problem);
if (problems.length > 0) {
  console.error(`${problems.length} import problem(s): move the shared piece down a layer (see STYLE.md 17)`);
  process.exit(1);
}
console.log(`imports: ${files.length} files, ${LAYERS.length} layers, no upward import, no cycle`);
