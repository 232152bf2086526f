// The worker config schema as a list of keys: what `dw-host --help` and the README print, and
// which environment variable overrides which key.
import schema from '../../schemas/dw-host/worker-config.json' with { type: 'json' };

interface SchemaNode {
  readonly type?: string;
  readonly description?: string;
  readonly default?: unknown;
  readonly enum?: readonly unknown[];
  readonly properties?: Readonly<Record<string, SchemaNode>>;
  readonly $ref?: string;
  readonly 'x-env'?: string;
  readonly 'x-env-unit'?: number;
}

export interface ConfigEntry {
  readonly path: readonly string[];
  readonly type: string;
  readonly description: string;
  readonly default?: unknown;
  readonly env?: string;
  /** The variable's unit in bytes (MiB variables for byte keys). */
  readonly envUnit?: number;
}

let entries: ConfigEntry[] | undefined;

/** Every documented key: leaves of the schema, and maps (registries) as one key. */
export function configEntries(): readonly ConfigEntry[] {
  entries ??= collect(schema as SchemaNode, []);
  return entries;
}

function collect(node: SchemaNode, path: readonly string[]): ConfigEntry[] {
  if (node.properties && !node['x-env']) {
    return Object.entries(node.properties).flatMap(([key, child]) => collect(child, [...path, key]));
  }
  const type = node.$ref ? 'object' : (node.type ?? 'string');
  return [
    {
      path,
      type,
      description: node.description ?? (node.$ref === '#/definitions/feature' ? '{enabled: true|false}' : ''),
      ...(node.default !== undefined ? { default: node.default } : {}),
      ...(node['x-env'] ? { env: node['x-env'] } : {}),
      ...(node['x-env-unit'] ? { envUnit: node['x-env-unit'] } : {}),
    },
  ];
}

/** The table `dw-host --help` prints: key, environment variable, default, what it is. */
export function configHelp(): string {
  return configEntries()
    .map((entry) => {
      const env = entry.env ? ` [${entry.env}${entry.envUnit === 1048576 ? ', MiB' : ''}]` : '';
      const fallback = entry.default === undefined ? '' : ` (default ${JSON.stringify(entry.default)})`;
      return `  ${entry.path.join('.')}${env}${fallback}\n      ${entry.description}`;
    })
    .join('\n');
}
