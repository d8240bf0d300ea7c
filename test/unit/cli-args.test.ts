import { describe, expect, it } from 'vitest';
import { ESTIMATE_FLAGS, flagForField, parseEstimateArgs, usageFromConfigError, UsageError } from '../../src/cli/args.ts';
import { estimateUsage } from '../../src/cli/help.ts';
import { usageErrorOf } from '../helpers/usage.ts';
import { ConfigError, DEFAULT_PLAN, LIMITS, PRECISIONS } from '../../src/protocol/config.ts';

const noFiles = (p: string): string => {
  throw Object.assign(new Error(`ENOENT: no such file, open '${p}'`), { code: 'ENOENT' });
};
const parse = (argv: string[], readText: (p: string) => string = noFiles) => parseEstimateArgs(argv, { readText });

/** The UsageError a command line raises; fails the test when it parses. */
function usageError(argv: string[], readText?: (p: string) => string): UsageError {
  return usageErrorOf(() => parse(argv, readText), argv);
}

describe('parseEstimateArgs', () => {
  it('gives DEFAULT_PLAN with no flags', () => {
    expect(parse([])).toEqual({ config: DEFAULT_PLAN, json: false, format: 'text', help: false, given: [] });
    expect(parse(['--batch', '4', '--json']).given).toEqual(['batch', 'json']);
  });

  it('maps every kebab-case flag onto the config', () => {
    const { config, json } = parse([
      '--model', 'mlp', '--d', '512', '--hidden', '2048', '--layers', '6', '--activation', 'relu',
      '--image-size', '128', '--mode', 'train', '--batch', '16', '--micro-batch', '4', '--seq', '256',
      '--precision', 'fp32', '--optimizer', 'sgd-momentum', '--checkpoint', 'sqrt', '--attention', 'eager',
      '--lora-rank', '8', '--qlora', '--zero', '2', '--gpus', '4', '--framework', 'vramlab',
      '--gpu-memory', '23.5', '--json',
    ]);
    expect(json).toBe(true);
    expect(config).toEqual({
      model: 'mlp',
      mlp: { d: 512, hidden: 2048, layers: 6, activation: 'relu' },
      imageSize: 128,
      mode: 'train',
      batch: 16,
      microBatch: 4,
      seq: 256,
      precision: 'fp32',
      optimizer: 'sgd-momentum',
      checkpoint: 'sqrt',
      attention: 'eager',
      loraRank: 8,
      qlora: true,
      zero: 2,
      gpus: 4,
      framework: 'vramlab',
      gpuMemoryGiB: 23.5,
    });
  });

  it('accepts --flag=value and leaves DEFAULT_PLAN untouched', () => {
    const before = structuredClone(DEFAULT_PLAN);
    expect(parse(['--model=mlp', '--layers=2']).config.mlp.layers).toBe(2);
    expect(DEFAULT_PLAN).toEqual(before);
  });

  it('returns help without validating the rest', () => {
    expect(parse(['-h']).help).toBe(true);
    expect(parse(['--help', '--batch', '3', '--micro-batch', '2']).help).toBe(true);
  });

  it.each([
    [['--batch', '1.5'], "--batch must be a whole number ≥ 1, got '1.5'"],
    [['--batch', '0'], "--batch must be a whole number ≥ 1, got '0'"],
    [['--batch', '-3'], "--batch must be a whole number ≥ 1, got '-3'"],
    [['--batch', '1e12'], "--batch must be a whole number ≥ 1, got '1e12'"],
    [['--batch', '0x10'], "--batch must be a whole number ≥ 1, got '0x10'"],
    [['--batch='], "--batch must be a whole number ≥ 1, got ''"],
    [['--lora-rank', '-1'], "--lora-rank must be a whole number ≥ 0, got '-1'"],
    [['--gpu-memory', 'lots'], "--gpu-memory must be a size in GiB greater than 0, e.g. 24, got 'lots'"],
    [['--zero', '4'], "--zero must be one of 0, 1, 2, 3; got '4'"],
    [['--foo'], 'unknown flag --foo; see vramlab estimate --help'],
    [['--foo=1'], 'unknown flag --foo; see vramlab estimate --help'],
    [['-x'], 'unknown flag -x; see vramlab estimate --help'],
    [['--batch'], '--batch needs a value; see vramlab estimate --help'],
    [['--json=yes'], '--json is a switch and takes no value'],
    [['gpt2'], "unexpected argument 'gpt2': vramlab estimate takes only flags; see vramlab estimate --help"],
    [['--model', 'hf'], '--model hf needs --hf-config path/to/config.json'],
    [['--d', '64'], "--d shapes --model mlp only; model 'gpt2-small' has its own shape"],
  ])('rejects %j', (argv, message) => {
    expect(usageError(argv).message).toBe(message);
  });

  it('lists the allowed values of an enum flag', () => {
    const { message, flag } = usageError(['--precision', 'fp6']);
    expect(flag).toBe('--precision');
    expect(message).toContain("got 'fp6'");
    for (const p of PRECISIONS) expect(message).toContain(p);
  });

  it("names the flag for the schema's own checks", () => {
    expect(usageError(['--batch', String(LIMITS.batch + 1)]).message).toBe(`--batch ${LIMITS.batch + 1}: batch must be at most ${LIMITS.batch}`);
    expect(usageError(['--micro-batch', '3']).message).toBe('--micro-batch 3: micro-batch must divide batch (8); try 2');
    expect(usageError(['--model', 'mlp', '--d', String(LIMITS.d * 2)]).flag).toBe('--d');
    expect(usageError(['--qlora']).flag).toBe('--qlora');
    expect(usageError(['--mode', 'inference', '--zero', '1']).message).toMatch(/^--zero 1: /);
  });

  describe('--hf-config', () => {
    const files: Record<string, string> = { 'ok.json': '{"model_type":"llama","hidden_size":64}', 'bad.json': '{"a":', 'list.json': '[1]' };
    const read = (p: string) => files[p] ?? noFiles(p);

    it('sets model hf and the parsed object', () => {
      const { config, hfConfigPath } = parse(['--hf-config', 'ok.json'], read);
      expect(config.model).toBe('hf');
      expect(config.hfConfig).toEqual({ model_type: 'llama', hidden_size: 64 });
      expect(hfConfigPath).toBe('ok.json');
      expect(parse(['--model', 'hf', '--hf-config', 'ok.json'], read).config.model).toBe('hf');
    });

    it.each([
      ['missing.json', "--hf-config: cannot read 'missing.json': no such file"],
      ['bad.json', "--hf-config: 'bad.json' is not valid JSON"],
      ['list.json', "--hf-config: 'list.json' must hold one JSON object"],
      ['', '--hf-config needs a path'],
    ])('rejects %s', (file, message) => {
      expect(usageError(['--hf-config', file], read).message).toContain(message);
    });

    it('conflicts with another --model', () => {
      expect(usageError(['--model', 'gpt2-small', '--hf-config', 'ok.json'], read).message).toBe(
        '--hf-config sets the model to hf; drop --model gpt2-small',
      );
    });
  });
});

describe('flag names in errors', () => {
  it.each([
    ['batch', '--batch'],
    ['microBatch', '--micro-batch'],
    ['mlp.d', '--d'],
    ['mlp.activation', '--activation'],
    ['imageSize', '--image-size'],
    ['loraRank', '--lora-rank'],
    ['gpuMemoryGiB', '--gpu-memory'],
    ['hfConfig.hidden_size', '--hf-config'],
    ['config', undefined],
  ])('%s → %s', (field, flag) => {
    expect(flagForField(field)).toBe(flag);
  });

  it('rewrites a ConfigError into a one-line UsageError', () => {
    const err = usageFromConfigError(new ConfigError('microBatch: micro-batch must divide batch (6); try 3', 'microBatch'), new Map([['micro-batch', '4']]));
    expect(err.message).toBe('--micro-batch 4: micro-batch must divide batch (6); try 3');
    expect(err.flag).toBe('--micro-batch');
  });

  it('every config flag maps back to itself', () => {
    for (const f of ESTIMATE_FLAGS) if (f.field) expect(flagForField(f.field)).toBe(`--${f.name}`);
  });
});

describe('estimate --help', () => {
  it('lists every flag with its allowed values and defaults', () => {
    const text = estimateUsage(['gpt2-small', 'llama-7b']);
    for (const f of ESTIMATE_FLAGS) expect(text).toContain(`--${f.name}`);
    for (const p of PRECISIONS) expect(text).toContain(p);
    expect(text).toContain(`(default ${DEFAULT_PLAN.batch})`);
    expect(text).toContain(`(default ${DEFAULT_PLAN.model})`);
    expect(text).toContain('llama-7b');
  });
});
