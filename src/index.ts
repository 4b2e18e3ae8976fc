// kernscope as a library: the pieces the CLI composes.
export { Agent } from './agent/Agent';
export type { AgentOptions } from './config/AgentOptions';
export { DEFAULT_OPTIONS } from './config/AgentOptions';
export { OptionError } from './config/OptionError';
export { validateOptions } from './config/validateOptions';
export { RecordLayout } from './decode/RecordLayout';
export { RingDrain } from './drain/RingDrain';
export { PrometheusExporter } from './export/PrometheusExporter';
export { HttpServer } from './export/HttpServer';
export { ProbeLoader, ProbeLoadError } from './load/ProbeLoader';
export { BpfError, addon } from './native/addon';
export { BUILTIN_PROBES, DEFAULT_PROBES, findProbe } from './probes';
export type { ProbeDefinition } from './probes/ProbeDefinition';
