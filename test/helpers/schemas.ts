/**
 * The JSON Schemas the package ships for `--json` outputs (protocol/outputs.ts, written to
 * lib/schemas/ by scripts/build-cli.mjs), checked with Ajv: a validator that is not zod, so the
 * shipped schema itself is what is tested, as a user's tool would read it.
 */
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { outputJsonSchemas } from '../../src/protocol/outputs.ts';

const schemas = outputJsonSchemas();
const ajv = new Ajv2020({ allErrors: true, strict: true, strictRequired: false });
const validators = new Map<string, ValidateFunction>();

/** The problems Ajv finds in `value` against the schema of `kind` (empty when it conforms). */
export function schemaProblems(kind: keyof typeof schemas, value: unknown): string[] {
  let v = validators.get(kind);
  if (!v) validators.set(kind, (v = ajv.compile(schemas[kind])));
  return v(value) ? [] : (v.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''}`);
}
