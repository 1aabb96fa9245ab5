import * as generated from '@kubernetes/client-node/dist/gen/models/all.js';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { id, type K8sObject } from './render.js';

/**
 * Strict validation against the Kubernetes 1.34 API definitions, offline: a misspelt key
 * (`imagePullPolicyy`, `securityContxt`) is a problem here, where kubernetes-models lets any
 * unknown field through (and so does the API server, which only drops it with a warning).
 *
 * The definitions are those of the official JavaScript client, @kubernetes/client-node 1.4.0,
 * generated from the Kubernetes v1.34.0 OpenAPI document: every model class carries the
 * `attributeTypeMap` of its definition (each property's wire name, type and format). Each class
 * becomes a JSON schema with `additionalProperties: false`; required fields, enums and formats
 * stay with kubernetes-models (validate.ts runs both).
 */
export const STRICT_SCHEMA_SOURCE = '@kubernetes/client-node 1.4.0 (OpenAPI spec v1.34.0)';

interface Attribute {
  baseName: string;
  type: string;
  format: string;
}
type JsonSchema = Record<string, unknown>;

const MODELS = generated as unknown as Record<string, { attributeTypeMap?: Attribute[] } | undefined>;
const SCHEMA_ID = 'k8s-1.34';

/** A property's JSON schema from the generator's type string ("Array<V1Container>", "IntOrString", ...). */
function typeSchema(type: string, format: string): JsonSchema {
  const array = /^Array<(.+)>$/.exec(type);
  if (array?.[1] !== undefined) {
    return { type: 'array', items: typeSchema(array[1], format) };
  }
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map?.[1] !== undefined) {
    return { type: 'object', additionalProperties: typeSchema(map[1], format) };
  }
  switch (type) {
    case 'string':
    case 'Date':
    case 'V1MicroTime': // RFC 3339 timestamps are strings on the wire
      return { type: 'string' };
    case 'boolean':
      return { type: 'boolean' };
    case 'number':
      return { type: format === 'double' ? 'number' : 'integer' };
    case 'IntOrString':
      return { type: ['integer', 'string'] };
    case 'any': // RawExtension, JSON: any value
      return {};
    default:
      if (MODELS[type]?.attributeTypeMap === undefined) {
        throw new Error(`${STRICT_SCHEMA_SOURCE}: no definition for type ${type}`);
      }
      return { $ref: `#/definitions/${type}` };
  }
}

function definitions(): Record<string, JsonSchema> {
  const out: Record<string, JsonSchema> = {};
  for (const [name, model] of Object.entries(MODELS)) {
    if (model?.attributeTypeMap === undefined) {
      continue;
    }
    const properties = Object.fromEntries(
      model.attributeTypeMap.map((a) => [a.baseName, typeSchema(a.type, a.format)]),
    );
    out[name] = { type: 'object', properties, additionalProperties: false };
  }
  return out;
}

let ajv: Ajv | undefined;
function compiled(name: string): ValidateFunction {
  // one registry of every definition; each kind's validator is compiled on first use
  ajv ??= new Ajv({ allErrors: true, strict: false }).addSchema({ $id: SCHEMA_ID, definitions: definitions() });
  const validate = ajv.getSchema(`${SCHEMA_ID}#/definitions/${name}`);
  if (validate === undefined) {
    throw new Error(`${STRICT_SCHEMA_SOURCE}: no schema ${name}`);
  }
  return validate;
}

/**
 * The generated class of a built-in kind: "V1Deployment" for apps/v1 Deployment. Kinds that two
 * groups define in the same version carry their group ("CoreV1Event", "EventsV1Event").
 */
export function strictDefinitionName(apiVersion: string, kind: string): string | undefined {
  const slash = apiVersion.indexOf('/');
  const group = slash < 0 ? '' : apiVersion.slice(0, slash);
  const version = slash < 0 ? apiVersion : apiVersion.slice(slash + 1);
  const capital = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);
  const prefix = group === '' ? 'Core' : capital(group.split('.')[0] ?? '');
  const v = capital(version);
  return [`${prefix}${v}${kind}`, `${v}${kind}`].find((name) => MODELS[name]?.attributeTypeMap !== undefined);
}

/** `null` is how YAML spells an unset field, and the API server reads it so: drop it before validating. */
function withoutNulls(value: unknown): unknown {
  if (Array.isArray(value)) {
    return value.map(withoutNulls);
  }
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>)
        .filter(([, v]) => v !== null)
        .map(([k, v]) => [k, withoutNulls(v)]),
    );
  }
  return value;
}

function message(error: ErrorObject): string {
  const at = error.instancePath === '' ? '(root)' : error.instancePath;
  if (error.keyword === 'additionalProperties') {
    return `${at}: unknown field ${String((error.params as { additionalProperty?: unknown }).additionalProperty)}`;
  }
  return `${at} ${error.message ?? error.keyword}`;
}

/** Unknown fields and wrong types in one built-in object; undefined when the kind has no definition. */
export function strictProblems(o: K8sObject): string[] | undefined {
  const name = strictDefinitionName(o.apiVersion, o.kind);
  if (name === undefined) {
    return undefined;
  }
  const validate = compiled(name);
  return validate(withoutNulls(o)) ? [] : (validate.errors ?? []).map((e) => `${id(o)}: ${message(e)}`);
}
