/**
 * Environment configuration, validated once at start.
 *
 * A service declares its variables as a schema; `loadConfig` parses them all and throws a
 * `ConfigError` naming the first bad one. The schema doubles as documentation (README table,
 * and the deployment checks compare the variables the manifests set against it).
 */

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    reason: string,
  ) {
    super(`Invalid configuration: ${variable} ${reason}`);
    this.name = 'ConfigError';
  }
}

export interface VarSpec<T> {
  readonly description: string;
  /** The default as it would be written in the environment; undefined means required (or optional, see below). */
  readonly defaultValue?: string;
  /** Optional variables without a default parse `undefined` into `undefined`. */
  readonly optional?: boolean;
  /** Secrets are never echoed back in error messages. */
  readonly secret?: boolean;
  parse(raw: string, name: string): T;
}

type Parsed<S> = S extends VarSpec<infer T> ? T : never;
export type ConfigSchema = Record<string, VarSpec<unknown>>;
export type ConfigOf<S extends ConfigSchema> = { readonly [K in keyof S]: Parsed<S[K]> };

function shown(raw: string, secret: boolean | undefined): string {
  if (secret) {
    return '(value hidden)';
  }
  const short = raw.length > 40 ? `${raw.slice(0, 40)}…` : raw;
  return JSON.stringify(short);
}

interface SpecOptions {
  description: string;
  default?: string;
  secret?: boolean;
}

export function str(opts: SpecOptions & { minLength?: number; pattern?: RegExp }): VarSpec<string> {
  return {
    description: opts.description,
    defaultValue: opts.default,
    secret: opts.secret,
    parse(raw, name) {
      if (opts.minLength !== undefined && raw.length < opts.minLength) {
        throw new ConfigError(name, `must be at least ${opts.minLength} characters`);
      }
      if (opts.pattern && !opts.pattern.test(raw)) {
        throw new ConfigError(name, `must match ${String(opts.pattern)}, got ${shown(raw, opts.secret)}`);
      }
      return raw;
    },
  };
}

export function optionalStr(opts: Omit<SpecOptions, 'default'>): VarSpec<string | undefined> {
  return {
    description: opts.description,
    optional: true,
    secret: opts.secret,
    parse: (raw) => (raw === '' ? undefined : raw),
  };
}

export function int(opts: SpecOptions & { min?: number; max?: number }): VarSpec<number> {
  const min = opts.min ?? Number.MIN_SAFE_INTEGER;
  const max = opts.max ?? Number.MAX_SAFE_INTEGER;
  return {
    description: opts.description,
    defaultValue: opts.default,
    parse(raw, name) {
      const value = /^-?\d+$/.test(raw.trim()) ? Number(raw.trim()) : Number.NaN;
      if (!Number.isSafeInteger(value) || value < min || value > max) {
        throw new ConfigError(name, `must be an integer between ${min} and ${max}, got ${shown(raw, false)}`);
      }
      return value;
    },
  };
}

export function bool(opts: SpecOptions): VarSpec<boolean> {
  return {
    description: opts.description,
    defaultValue: opts.default,
    parse(raw, name) {
      const value = raw.trim().toLowerCase();
      if (['true', '1', 'yes'].includes(value)) {
        return true;
      }
      if (['false', '0', 'no'].includes(value)) {
        return false;
      }
      throw new ConfigError(name, `must be true or false, got ${shown(raw, false)}`);
    },
  };
}

export function url(opts: SpecOptions & { protocols: string[] }): VarSpec<string> {
  return {
    description: opts.description,
    defaultValue: opts.default,
    secret: opts.secret,
    parse(raw, name) {
      let parsed: URL;
      try {
        parsed = new URL(raw);
      } catch {
        throw new ConfigError(name, `must be a URL (${opts.protocols.join(', ')}), got ${shown(raw, opts.secret)}`);
      }
      const protocol = parsed.protocol.replace(/:$/, '');
      if (!opts.protocols.includes(protocol)) {
        throw new ConfigError(name, `must use ${opts.protocols.join(' or ')}, got ${protocol}:`);
      }
      return raw;
    },
  };
}

export function oneOf<const T extends string>(values: readonly T[], opts: SpecOptions): VarSpec<T> {
  return {
    description: opts.description,
    defaultValue: opts.default,
    parse(raw, name) {
      if (!(values as readonly string[]).includes(raw)) {
        throw new ConfigError(name, `must be one of ${values.join(', ')}, got ${shown(raw, false)}`);
      }
      return raw as T;
    },
  };
}

/** PEM blocks, one or more, concatenated (newlines may be written as literal "\n"). */
export function pemList(opts: Omit<SpecOptions, 'default'> & { label: RegExp }): VarSpec<string[] | undefined> {
  return {
    description: opts.description,
    optional: true,
    secret: opts.secret,
    parse(raw, name) {
      const text = raw.replace(/\\n/g, '\n').trim();
      if (text === '') {
        return undefined;
      }
      const blocks = text.match(/-----BEGIN ([A-Z ]+)-----[\s\S]+?-----END \1-----/g) ?? [];
      if (blocks.length === 0 || blocks.some((b) => !opts.label.test(b.split('\n')[0] ?? ''))) {
        throw new ConfigError(name, 'must contain PEM blocks of the expected kind');
      }
      return blocks;
    },
  };
}

export function loadConfig<S extends ConfigSchema>(schema: S, env: NodeJS.ProcessEnv = process.env): ConfigOf<S> {
  const out: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(schema)) {
    const raw = env[name];
    if (raw === undefined || raw === '') {
      if (spec.defaultValue !== undefined) {
        out[name] = spec.parse(spec.defaultValue, name);
      } else if (spec.optional) {
        out[name] = undefined;
      } else {
        throw new ConfigError(name, 'is required but not set');
      }
      continue;
    }
    out[name] = spec.parse(raw, name);
  }
  return out as ConfigOf<S>;
}

/** Loads the configuration or ends the process with one line naming the bad variable. */
export function loadConfigOrExit<S extends ConfigSchema>(schema: S, env: NodeJS.ProcessEnv = process.env): ConfigOf<S> {
  try {
    return loadConfig(schema, env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw error;
  }
}

/** Runs a start-up step whose failure is a configuration problem: one line, exit 78. */
export async function exitOnConfigError<T>(step: () => T | Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(78);
    }
    throw error;
  }
}
