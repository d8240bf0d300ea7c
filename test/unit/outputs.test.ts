/**
 * Every `--json` object names its schema and version, and conforms to the JSON Schema the
 * package ships for it (the GPU outputs are checked in test/gpu/cli-run, cli-gpt and cli-bench).
 */
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.ts';
import { schemaProblems } from '../helpers/schemas.ts';
import { OUTPUT_SCHEMAS } from '../../src/protocol/outputs.ts';

const TIMEOUT = 60_000;

describe('estimate --json against lib/schemas/estimate.schema.json', () => {
  it.each([
    [['--model', 'gpt2-small', '--checkpoint', 'full']],
    [['--model', 'llama-2-7b', '--mode', 'inference', '--seq', '4096', '--precision', 'int4']],
    [['--model', 'mlp', '--d', '64', '--hidden', '256', '--layers', '2', '--gpu-memory', '24']],
  ])('%j', { timeout: TIMEOUT }, async (argv) => {
    const r = await runCli(['estimate', ...argv, '--json'], { timeoutMs: TIMEOUT });
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(Object.keys(out)[0]).toBe('schema');
    expect(out.schema).toBe('vramlab.estimate/1');
    expect(schemaProblems('estimate', out)).toEqual([]);
    // The schema is strict: a renamed field or another version does not pass.
    const { peak, ...renamed } = out;
    expect(schemaProblems('estimate', { ...renamed, peakRenamed: peak })).not.toEqual([]);
    expect(schemaProblems('estimate', { ...out, schema: 'vramlab.estimate/2' })).not.toEqual([]);
  });

  it('fit --json names its schema too', { timeout: TIMEOUT }, async () => {
    const r = await runCli(['fit', '--model', 'gpt2-small', '--gpu-memory', '8', '--json'], { timeoutMs: TIMEOUT });
    expect(r.status, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as { schema: string }).schema).toBe(OUTPUT_SCHEMAS.fit);
  });
});
