import assert from 'node:assert/strict';
import { describe, it } from '@jest/globals';
import {
  bool,
  ConfigError,
  commonConfigSchema,
  docsEnabled,
  int,
  loadConfig,
  oneOf,
  pemList,
  str,
  url,
} from '../src/index.js';

describe('loadConfig', () => {
  const schema = {
    PORT: int({ description: 'port', min: 1, max: 65535, default: '3000' }),
    FLAG: bool({ description: 'flag', default: 'false' }),
    NAME: str({ description: 'required name' }),
    DB: url({ description: 'db', protocols: ['postgres'], default: 'postgres://x@h/db', secret: true }),
    MODE: oneOf(['a', 'b'] as const, { description: 'mode', default: 'a' }),
  };

  it('applies defaults and parses types', () => {
    const config = loadConfig(schema, { NAME: 'x', FLAG: 'yes', PORT: '8080' });
    assert.deepEqual(config, { PORT: 8080, FLAG: true, NAME: 'x', DB: 'postgres://x@h/db', MODE: 'a' });
  });

  it('names a missing required variable', () => {
    assert.throws(
      () => loadConfig(schema, {}),
      (e: unknown) => e instanceof ConfigError && e.variable === 'NAME' && /required/.test(e.message),
    );
  });

  for (const [name, value] of [
    ['PORT', '0'],
    ['PORT', '3.5'],
    ['PORT', '80 80'],
    ['FLAG', 'perhaps'],
    ['DB', 'mysql://h/db'],
    ['MODE', 'c'],
  ] as const) {
    it(`rejects ${name}=${value} naming ${name}`, () => {
      assert.throws(
        () => loadConfig(schema, { NAME: 'x', [name]: value }),
        (e: unknown) => e instanceof ConfigError && e.variable === name,
      );
    });
  }

  it('never echoes a secret value', () => {
    const secretSchema = { DB: url({ description: 'db', protocols: ['postgres'], secret: true }) };
    assert.throws(
      () => loadConfig(secretSchema, { DB: 'not a url with password hunter2' }),
      (e: unknown) => e instanceof ConfigError && !e.message.includes('hunter2'),
    );
  });

  it('reads several PEM blocks, with literal \\n escapes', () => {
    const block = (n: number) => `-----BEGIN PUBLIC KEY-----\\nAAAA${n}\\n-----END PUBLIC KEY-----`;
    const keys = loadConfig(
      { K: pemList({ description: 'k', label: /PUBLIC KEY/ }) },
      { K: `${block(1)}\\n${block(2)}` },
    ).K;
    assert.equal(keys?.length, 2);
    assert.throws(() =>
      loadConfig(
        { K: pemList({ description: 'k', label: /PUBLIC KEY/ }) },
        { K: '-----BEGIN PRIVATE KEY-----\nA\n-----END PRIVATE KEY-----' },
      ),
    );
  });

  it('has a description and a valid default for every common variable', () => {
    const config = loadConfig(commonConfigSchema, {});
    for (const [name, spec] of Object.entries(commonConfigSchema)) {
      assert.ok(spec.description.length > 5, `${name} is described`);
      assert.ok(name in config);
    }
  });
});

describe('API docs switch', () => {
  it('serves the docs outside production, in production only when asked for', () => {
    const cases: Array<['auto' | 'on' | 'off', string, boolean]> = [
      ['auto', 'development', true],
      ['auto', 'test', true],
      ['auto', 'production', false],
      ['on', 'production', true],
      ['off', 'development', false],
    ];
    for (const [API_DOCS, NODE_ENV, expected] of cases) {
      assert.equal(docsEnabled({ API_DOCS, NODE_ENV }), expected, `${API_DOCS} with ${NODE_ENV}`);
    }
  });
});
