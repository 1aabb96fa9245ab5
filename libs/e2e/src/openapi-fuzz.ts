import fc from 'fast-check';

/**
 * Requests generated from a service's own OpenAPI document with fast-check: every operation, its
 * path and query parameters and its JSON body, each value either valid for its schema or hostile
 * (control and bidi characters, lone surrogates, huge and fractional numbers where integers are
 * due, deep nesting, wrong types, tampered cursors, missing and unknown fields). What a client
 * can send is what the document says, so a new route or field is fuzzed without a test change.
 */

export interface Schema {
  $ref?: string;
  type?: string;
  format?: string;
  enum?: unknown[];
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  oneOf?: Schema[];
  anyOf?: Schema[];
  allOf?: Schema[];
}

interface Parameter {
  name: string;
  in: string;
  required?: boolean;
  schema?: Schema;
}

interface Operation {
  parameters?: Parameter[];
  requestBody?: { content?: Record<string, { schema?: Schema }> };
}

export interface OpenApiDocument {
  paths: Record<string, Record<string, Operation>>;
  components?: { schemas?: Record<string, Schema> };
}

export interface FuzzRequest {
  method: string;
  /** path and query, URL-encoded */
  path: string;
  /** JSON text (possibly malformed on purpose) */
  body?: string;
}

const HOSTILE_TEXT = [
  '\u0000',
  'a\u0000b',
  '\u0007bell',
  '\u0085next-line',
  '\u009b[31m',
  'evil\u202Egnp.exe',
  '\u2066isolate',
  '\uD800',
  'x\uDFFFy',
  '\uFEFFbom',
  "' OR '1'='1",
  '<script>alert(1)</script>',
  '../../../../etc/passwd',
  '%00',
  '__proto__',
  '😀 한국어',
  '',
  ' ',
];

/** Numbers as JSON text, including what JSON.stringify cannot write. */
const HOSTILE_NUMBERS = [
  '1e400',
  '-1e400',
  '1e-400',
  '2147483648',
  '-2147483649',
  '9007199254740993',
  '123456789012345678901234567890',
  '1.5',
  '-0',
  '0',
  '-1',
];

const hostileString: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...HOSTILE_TEXT) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ maxLength: 20 }).map((s) => s.repeat(500)) },
);

const deepNesting: fc.Arbitrary<string> = fc
  .integer({ min: 60, max: 5000 })
  .chain((n) =>
    fc.constantFrom('[', '{"a":').map((open) => `${open.repeat(n)}1${(open === '[' ? ']' : '}').repeat(n)}`),
  );

function resolve(doc: OpenApiDocument, schema: Schema | undefined, seen = 0): Schema {
  if (!schema || seen > 10) {
    return {};
  }
  if (schema.$ref) {
    const name = schema.$ref.split('/').at(-1) ?? '';
    return resolve(doc, doc.components?.schemas?.[name], seen + 1);
  }
  if (schema.allOf?.length) {
    return schema.allOf.reduce<Schema>((merged, part) => {
      const r = resolve(doc, part, seen + 1);
      return {
        ...merged,
        ...r,
        properties: { ...merged.properties, ...r.properties },
        required: [...(merged.required ?? []), ...(r.required ?? [])],
      };
    }, {});
  }
  return schema;
}

const json = (value: unknown): string => JSON.stringify(value);

/**
 * encodeURIComponent for any string: a lone surrogate (which it refuses) is sent as the three
 * bytes a careless client would put on the wire for it (WTF-8), for the server to refuse.
 */
function encodeAny(text: string): string {
  let out = '';
  for (const ch of text) {
    const cp = ch.codePointAt(0) ?? 0;
    if (cp >= 0xd800 && cp <= 0xdfff) {
      out += [0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f)]
        .map((b) => `%${b.toString(16).toUpperCase()}`)
        .join('');
    } else {
      out += encodeURIComponent(ch);
    }
  }
  return out;
}

/** JSON text of a value the schema accepts (as far as the schema can say). */
function validText(doc: OpenApiDocument, raw: Schema | undefined, depth: number): fc.Arbitrary<string> {
  const schema = resolve(doc, raw);
  if (schema.enum?.length) {
    return fc.constantFrom(...schema.enum).map(json);
  }
  const variants = schema.oneOf ?? schema.anyOf;
  if (variants?.length) {
    return fc.oneof(...variants.map((v) => validText(doc, v, depth)));
  }
  switch (schema.type) {
    case 'integer':
      return fc.integer({ min: schema.minimum ?? -1000, max: schema.maximum ?? 1_000_000 }).map(json);
    case 'number':
      return fc
        .double({ min: schema.minimum ?? -1e6, max: schema.maximum ?? 1e12, noNaN: true, noDefaultInfinity: true })
        .map(json);
    case 'boolean':
      return fc.boolean().map(json);
    case 'array':
      return depth > 3
        ? fc.constant('[]')
        : fc.array(valueText(doc, schema.items, depth + 1), { maxLength: 4 }).map((items) => `[${items.join(',')}]`);
    case 'object':
      return objectText(doc, schema, depth + 1);
    case 'string':
      return stringOf(schema).map(json);
    default:
      return depth > 3 ? fc.constant('null') : fc.oneof(fc.constant('{}'), fc.string().map(json));
  }
}

function stringOf(schema: Schema): fc.Arbitrary<string> {
  switch (schema.format) {
    case 'uuid':
      return fc.uuid();
    case 'date':
      return fc
        .date({ min: new Date('1990-01-01'), max: new Date('2040-12-31'), noInvalidDate: true })
        .map((d) => d.toISOString().slice(0, 10));
    case 'date-time':
      return fc.date({ noInvalidDate: true }).map((d) => d.toISOString());
    default:
      return fc.string({ minLength: schema.minLength ?? 0, maxLength: Math.min(schema.maxLength ?? 30, 60) });
  }
}

/** JSON text of a value: mostly valid for its schema, sometimes hostile. */
function valueText(doc: OpenApiDocument, schema: Schema | undefined, depth: number): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 5, arbitrary: validText(doc, schema, depth) },
    { weight: 2, arbitrary: hostileString.map(json) },
    { weight: 1, arbitrary: fc.constantFrom(...HOSTILE_NUMBERS) },
    { weight: 1, arbitrary: deepNesting },
    { weight: 1, arbitrary: fc.constantFrom('null', 'true', '[]', '{}', '{"$ne":null}', '["a",1]') },
  );
}

function objectText(doc: OpenApiDocument, schema: Schema, depth: number): fc.Arbitrary<string> {
  const properties = Object.entries(schema.properties ?? {});
  const required = new Set(schema.required ?? []);
  const fields = properties.map(([name, property]) =>
    fc.record({
      name: fc.constant(name),
      // a required field is left out now and then, an optional one often
      present: fc.integer({ min: 0, max: 9 }).map((n) => n < (required.has(name) ? 9 : 5)),
      text: valueText(doc, property, depth),
    }),
  );
  const extra = fc.option(
    fc.tuple(
      fc.oneof(fc.constantFrom('__proto__', 'constructor', 'isAdmin'), hostileString),
      valueText(doc, {}, depth + 2),
    ),
    {
      freq: 8,
    },
  );
  return fc.tuple(fc.tuple(...fields), extra).map(([chosen, unknown]) => {
    const entries = chosen.filter((f) => f.present).map((f) => `${json(f.name)}:${f.text}`);
    if (unknown) {
      entries.push(`${json(unknown[0])}:${unknown[1]}`);
    }
    return `{${entries.join(',')}}`;
  });
}

/** A query or path value: valid for its schema or hostile; cursors also as tampered base64url. */
function parameterValue(doc: OpenApiDocument, parameter: Parameter): fc.Arbitrary<string> {
  const schema = resolve(doc, parameter.schema);
  const valid =
    schema.type === 'integer' || schema.type === 'number'
      ? fc.integer({ min: schema.minimum ?? 0, max: schema.maximum ?? 1000 }).map(String)
      : schema.enum?.length
        ? fc.constantFrom(...schema.enum.map(String))
        : stringOf(schema);
  const tamperedCursor = fc
    .oneof(
      fc.constantFrom<unknown[]>(['2026-13-45'], [1.5], ['1e400'], [2147483648], [-1], ['9999-99-99T99:99:99Z', 'x']),
      fc.array(fc.oneof(fc.string(), fc.double(), fc.integer()), { maxLength: 3 }),
    )
    .map((parts) => Buffer.from(JSON.stringify(parts)).toString('base64url'));
  return fc.oneof(
    { weight: 4, arbitrary: valid },
    { weight: 3, arbitrary: hostileString },
    { weight: 2, arbitrary: fc.constantFrom(...HOSTILE_NUMBERS) },
    { weight: parameter.name === 'cursor' ? 3 : 0, arbitrary: tamperedCursor },
  );
}

/** Every operation of the document under /api/, as one arbitrary of requests. */
export function requestsOf(doc: OpenApiDocument): fc.Arbitrary<FuzzRequest> {
  const operations: fc.Arbitrary<FuzzRequest>[] = [];
  for (const [template, methods] of Object.entries(doc.paths)) {
    if (!template.startsWith('/api/')) {
      continue;
    }
    for (const [method, operation] of Object.entries(methods)) {
      const parameters = operation.parameters ?? [];
      const pathParams = parameters.filter((p) => p.in === 'path');
      const queryParams = parameters.filter((p) => p.in === 'query');
      const bodySchema = operation.requestBody?.content?.['application/json']?.schema;
      const pathArb = fc
        .tuple(...pathParams.map((p) => parameterValue(doc, p)))
        .map((values) =>
          pathParams.reduce((path, p, i) => path.replace(`{${p.name}}`, encodeAny(values[i])), template),
        );
      const queryArb = fc
        .tuple(...queryParams.map((p) => fc.option(parameterValue(doc, p), { freq: 2 })))
        .map((values) =>
          queryParams
            .flatMap((p, i) => {
              const v = values[i];
              return v === null ? [] : [`${encodeURIComponent(p.name)}=${encodeAny(v)}`];
            })
            .join('&'),
        );
      const bodyArb: fc.Arbitrary<string | undefined> = bodySchema
        ? fc.oneof(
            { weight: 8, arbitrary: objectText(doc, resolve(doc, bodySchema), 0) },
            { weight: 1, arbitrary: deepNesting },
            { weight: 1, arbitrary: fc.constantFrom('{"a":', '[1,2', '"text"', 'null', '') },
          )
        : fc.constant(undefined);
      operations.push(
        fc.record({ path: pathArb, query: queryArb, body: bodyArb }).map(({ path, query, body }) => ({
          method: method.toUpperCase(),
          path: query === '' ? path : `${path}?${query}`,
          body,
        })),
      );
    }
  }
  if (operations.length === 0) {
    throw new Error('the OpenAPI document has no operation under /api/');
  }
  return fc.oneof(...operations);
}
