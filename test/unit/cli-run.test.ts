/** `vramlab run` without a GPU: flags → RunConfig, errors → the flag, the report's text. */
import { describe, expect, it } from 'vitest';
import { llamaPresetRun, parseRunArgs, RUN_FLAGS, flagForField, runFlagsFor, SWEEP_KEYS, UsageError } from '../../src/cli/args.ts';
import { formatProgress, formatRunReport, formatSweep, sweepLine, type SweepLine } from '../../src/cli/format.ts';
import { runUsage } from '../../src/cli/help.ts';
import { main, type Io } from '../../src/cli/main.ts';
import {
  DEFAULT_RUN,
  GPT_NANO_RUN,
  GptRunConfigSchema,
  RunConfigSchema,
  planConfigOf,
  planConfigOfGpt,
  type GptRunConfig,
  type GptRunReport,
  type RunReport,
} from '../../src/protocol/run.ts';
import { DEFAULT_CNN_RUN } from '../../src/protocol/cnn.ts';
import { zeroCategories } from '../../src/protocol/plan.ts';
import { estimate } from '../../src/estimate/index.ts';
import { usageErrorOf } from '../helpers/usage.ts';
import { stepWork } from '../../src/estimate/vramlab-work.ts';

function usage(argv: string[]): UsageError {
  return usageErrorOf(() => parseRunArgs(argv), argv);
}

describe('parseRunArgs', () => {
  it('starts from DEFAULT_RUN', () => {
    expect(parseRunArgs([])).toEqual({ config: DEFAULT_RUN, json: false, format: 'text', help: false, wallClock: false, outputs: {} });
  });

  it('sets every field from its flag', () => {
    const a = parseRunArgs([
      '--model', 'mlp', '--d', '8', '--hidden', '24', '--layers', '3', '--batch', '5', '--activation', 'relu',
      '--precision', 'amp-bf16', '--optimizer', 'sgd-momentum', '--checkpoint', 'sqrt', '--steps', '7', '--seed', '0',
      '--lr', '1e-2', '--json', '--wall-clock', '--trace', 'step.trace.json', '--memory-snapshot', 'step.pickle',
    ]);
    expect(a).toEqual({
      config: { model: 'mlp', d: 8, hidden: 24, layers: 3, batch: 5, activation: 'relu', precision: 'amp-bf16', optimizer: 'sgd-momentum', checkpoint: 'sqrt', steps: 7, seed: 0, lr: 0.01 },
      json: true,
      format: 'json',
      help: false,
      wallClock: true,
      outputs: { trace: 'step.trace.json', memorySnapshot: 'step.pickle' },
    });
  });

  it('maps every schema field to a flag, and every field flag to a schema field, per model', () => {
    const kebab = (field: string) => `--${field.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
    for (const [model, schema] of [['mlp', RunConfigSchema], ['gpt', GptRunConfigSchema]] as const) {
      const flags = runFlagsFor(model);
      for (const field of Object.keys(schema.shape)) expect(flagForField(field, flags), `${model} ${field}`).toBe(kebab(field));
      for (const f of flags) if (f.field) expect(Object.keys(schema.shape), `${model} --${f.name}`).toContain(f.field);
    }
  });

  it.each([
    [['--bogus'], /^unknown flag --bogus; see vramlab run --help$/],
    [['extra'], /vramlab run takes only flags/],
    [['--d'], /^--d needs a value/],
    [['--json=1'], /^--json is a switch/],
    [['--d', '-3'], /^--d must be a whole number ≥ 1, got '-3'$/],
    [['--hidden', '0x10'], /^--hidden must be a whole number/],
    [['--layers', '99999'], /^--layers 99999: layers must be at most \d+$/],
    [['--steps', '1000000'], /^--steps 1000000: steps must be at most 100000$/],
    [['--seed', '4294967296'], /^--seed 4294967296: seed must be at most/],
    [['--lr', 'fast'], /^--lr must be a number/],
    [['--lr', '0'], /^--lr 0: lr must be more than 0$/],
    [['--lr', '11'], /^--lr 11: lr must be at most 10$/],
    [['--precision', 'int4'], /^--precision must be one of fp32, amp-fp16, amp-bf16; got 'int4'$/],
    [['--optimizer', 'adafactor'], /^--optimizer must be one of sgd, sgd-momentum, adam, adamw/],
    [['--checkpoint', 'selective'], /^--checkpoint must be one of none, full, sqrt; got 'selective'$/],
    [['--model', 'bert-base'], /^--model must be one of mlp, gpt, gpt-nano, llama-3\.2-1b, .*, cnn-mnist, cnn-cifar; got 'bert-base'$/],
    [['--seq', '4'], /^--seq shapes --model gpt, llama only; --model mlp takes --layers, --d, --hidden, --activation$/],
    [['--heads', '2'], /^--heads shapes --model gpt only/],
    [['--model', 'gpt', '--d', '8'], /^--d shapes --model mlp only; --model gpt takes --layers, --vocab, --d-model, --heads, --seq, --attention, --lora-rank, --lora-alpha, --qlora$/],
    [['--model', 'gpt-nano', '--hidden', '8'], /^--hidden shapes --model mlp only/],
    [['--model', 'gpt', '--activation', 'relu'], /^--activation shapes --model mlp only/],
    [['--model', 'gpt', '--d-model', '16', '--heads', '3'], /^--heads 3: heads must divide d-model \(16\)$/],
    [['--model', 'gpt', '--heads', '5'], /^--heads 5: heads must divide d-model \(64\)$/],
    [['--model', 'gpt', '--d-model', '12', '--precision', 'amp-fp16', '--heads', '4'], /^--heads 4: with 16-bit activations the head size/],
    [['--model', 'gpt', '--d-model', '0'], /^--d-model must be a whole number ≥ 1, got '0'$/],
    [['--model', 'gpt', '--d-model', '99999999'], /^--d-model 99999999: d-model must be at most \d+$/],
    [['--model', 'gpt', '--vocab', '1'], /^--vocab must be a whole number ≥ 2, got '1'$/],
    [['--model', 'gpt', '--seq', '1e3'], /^--seq must be a whole number/],
    [['--model', 'gpt', '--attention', 'flash'], /^--attention must be one of eager, fused; got 'flash'$/],
    [['--model', 'gpt', '--checkpoint', 'some'], /^--checkpoint must be one of none, full, selective, sqrt; got 'some'$/],
    [['--model', 'gpt', '--lr', '20'], /^--lr 20: lr must be at most 10$/],
    [['--sweep', 'foo=1,2'], /^--sweep: no such key 'foo'; --model mlp sweeps batch, layers$/],
    [['--sweep', 'seq=8,16'], /^--sweep: seq shapes --model gpt, llama only; --model mlp sweeps batch, layers$/],
    [['--model', 'gpt', '--sweep', 'd-model=8,16'], /^--sweep: no such key 'd-model'; --model gpt sweeps seq, batch, layers$/],
    [['--model', 'gpt', '--sweep', 'seq'], /^--sweep takes KEY=V1,V2,… with KEY one of seq, batch, layers; got 'seq'$/],
    [['--model', 'gpt', '--sweep', 'seq=8'], /^--sweep seq= takes 2 to 16 values separated by commas; got 1$/],
    [['--model', 'gpt', '--sweep', `seq=${Array.from({ length: 17 }, (_, i) => i + 1).join(',')}`], /takes 2 to 16 values .*; got 17$/],
    [['--model', 'gpt', '--sweep', 'seq=8,,16'], /^--sweep seq=8,,16: --seq must be a whole number ≥ 1, got ''$/],
    [['--model', 'gpt', '--sweep', 'seq=8,0'], /^--sweep seq=8,0: --seq must be a whole number ≥ 1, got '0'$/],
    [['--model', 'gpt', '--sweep', 'seq=8,1.5'], /^--sweep seq=8,1\.5: --seq must be a whole number/],
    [['--model', 'gpt', '--sweep', 'layers=1,99999'], /^--sweep layers=1,99999: --layers 99999: layers must be at most \d+$/],
    [['--sweep', 'batch=1,2000000'], /^--sweep batch=1,2000000: --batch 2000000: batch must be at most \d+$/],
    [['--model', 'gpt', '--seq', '16', '--sweep', 'seq=8,16'], /^--sweep seq=… and --seq both set seq; drop --seq$/],
    [['--sweep'], /^--sweep needs a value/],
  ])('%j → one line naming the flag', (argv, message) => {
    const e = usage(argv);
    expect(e.message).toMatch(message);
    expect(e.message).not.toContain('\n');
  });

  it('--help wins over bad values and documents every flag with its default', () => {
    expect(parseRunArgs(['--help', '--d', '0']).help).toBe(true);
    expect(parseRunArgs(['--model', 'gpt', '--help', '--d', '8']).help).toBe(true);
    const text = runUsage();
    for (const f of RUN_FLAGS) expect(text).toContain(`--${f.name}`);
    expect(text).toContain(`(default ${DEFAULT_RUN.hidden})`);
    expect(text).toMatch(/--d-model N +.*\(default 64\)$/m);
    expect(text).toMatch(/--batch N +.*\(default mlp: 32; gpt: 4; llama: 4; cnn: 8\)$/m);
    expect(text).toMatch(/^ {2}vramlab run --model cnn-cifar --blocks 1 /m);
    expect(text).toMatch(/^ +mlp takes none, full, sqrt$/m);
    expect(text).toMatch(/^ +gpt default: sgd 0\.1, sgd-momentum 0\.05, adam 0\.003, adamw 0\.003$/m);
    expect(text).toMatch(/^ {2}vramlab run --model gpt .*--sweep seq=/m);
    expect(text).toMatch(/^ {2}vramlab run --model mlp --sweep batch=/m);
  });
});

describe('parseRunArgs --model llama-*: --layers', () => {
  it('sets the preset\'s depth and marks it given, so scaling to the device keeps it', () => {
    const given = parseRunArgs(['--model', 'llama-3.2-1b', '--layers', '2']);
    expect(given.config).toEqual({ ...llamaPresetRun('llama-3.2-1b'), layers: 2 });
    expect(given.depthGiven).toBe(true);
    expect(parseRunArgs(['--model', 'llama-3.2-1b']).depthGiven).toBeUndefined();
    expect(parseRunArgs(['--model', 'llama-3.2-1b', '--sweep', 'layers=1,2']).depthGiven).toBe(true);
  });
});

describe('parseRunArgs --model cnn-mnist|cnn-cifar', () => {
  it('starts from DEFAULT_CNN_RUN with the model named; cnn-cifar takes --blocks and --width', () => {
    expect(parseRunArgs(['--model', 'cnn-mnist']).config).toEqual(DEFAULT_CNN_RUN);
    expect(parseRunArgs(['--model', 'cnn-cifar', '--blocks', '1', '--width', '8', '--checkpoint', 'sqrt']).config).toEqual({ ...DEFAULT_CNN_RUN, model: 'cnn-cifar', blocks: 1, width: 8, checkpoint: 'sqrt' });
    expect(parseRunArgs(['--model', 'cnn-cifar', '--sweep', 'blocks=1,2']).sweep?.points.map((p) => p.value)).toEqual([1, 2]);
  });

  it.each([
    [['--model', 'cnn-mnist', '--blocks', '2'], /^--blocks 2: cnn-mnist has a fixed shape/],
    [['--model', 'cnn-cifar', '--layers', '2'], /^--layers shapes --model mlp, gpt, llama only; --model cnn takes --blocks, --width$/],
    [['--model', 'cnn-cifar', '--checkpoint', 'selective'], /^--checkpoint/],
    [['--model', 'cnn-cifar', '--width', '0'], /^--width/],
  ])('%j → one line naming the flag', (argv, message) => {
    const e = usage(argv);
    expect(e.message).toMatch(message);
    expect(e.message).not.toContain('\n');
  });
});

describe('parseRunArgs --model gpt', () => {
  it('starts from GPT_NANO_RUN, for gpt and for the gpt-nano preset alike', () => {
    expect(parseRunArgs(['--model', 'gpt'])).toEqual({ config: GPT_NANO_RUN, json: false, format: 'text', help: false, wallClock: false, outputs: {} });
    expect(parseRunArgs(['--model', 'gpt-nano']).config).toEqual(GPT_NANO_RUN);
    expect(parseRunArgs(['--model', 'gpt-nano', '--seq', '32']).config).toEqual({ ...GPT_NANO_RUN, seq: 32 });
  });

  it('sets every field from its flag', () => {
    const a = parseRunArgs([
      '--model', 'gpt', '--vocab', '32', '--d-model', '16', '--heads', '2', '--layers', '1', '--seq', '8', '--batch', '2',
      '--attention', 'eager', '--precision', 'amp-bf16', '--optimizer', 'sgd', '--checkpoint', 'selective', '--steps', '2',
      '--seed', '7', '--lr', '0.5', '--json', '--wall-clock',
    ]);
    const config: GptRunConfig = {
      model: 'gpt', vocab: 32, dModel: 16, heads: 2, layers: 1, seq: 8, batch: 2, attention: 'eager', precision: 'amp-bf16',
      optimizer: 'sgd', checkpoint: 'selective', steps: 2, seed: 7, lr: 0.5,
    };
    expect(a).toEqual({ config, json: true, format: 'json', help: false, wallClock: true, outputs: {} });
  });

  it('--lora-rank, --lora-alpha and --qlora train adapters over a frozen (NF4) base; nonsense is refused with the flag named', () => {
    expect(parseRunArgs(['--model', 'gpt', '--lora-rank', '8', '--qlora', '--lora-alpha', '32']).config).toEqual({ ...GPT_NANO_RUN, loraRank: 8, qlora: true, loraAlpha: 32 });
    expect(usage(['--model', 'gpt', '--qlora']).message).toMatch(/--qlora.*needs a LoRA rank/);
    expect(usage(['--model', 'gpt', '--lora-alpha', '4']).message).toMatch(/--lora-alpha.*needs a LoRA rank/);
    expect(usage(['--model', 'gpt', '--lora-rank', '65']).message).toMatch(/--lora-rank.*at most d-model \(64\)/);
    expect(usage(['--lora-rank', '4']).message).toMatch(/--lora-rank shapes --model gpt, llama only/);
    // The estimate the run is checked against is the planner's LoRA/QLoRA one.
    const plan = planConfigOfGpt({ ...GPT_NANO_RUN, loraRank: 8, qlora: true });
    expect(plan).toMatchObject({ loraRank: 8, qlora: true, framework: 'vramlab' });
  });

  it('takes the flags in any order: --model after the shape flags', () => {
    expect(parseRunArgs(['--heads', '2', '--d-model', '16', '--model', 'gpt']).config).toMatchObject({ heads: 2, dModel: 16 });
    expect(parseRunArgs(['--d-model=16', '--heads=8', '--model=gpt']).config).toMatchObject({ heads: 8, dModel: 16 });
  });
});

describe('parseRunArgs --sweep', () => {
  it('gives one validated config per value, in the order given, the rest of the flags kept', () => {
    const a = parseRunArgs(['--model', 'gpt', '--attention', 'eager', '--batch', '3', '--sweep', 'seq=128,8,32']);
    expect(a.config).toEqual({ ...GPT_NANO_RUN, attention: 'eager', batch: 3 });
    expect(a.sweep?.key).toBe('seq');
    expect(a.sweep?.points).toEqual([128, 8, 32].map((seq) => ({ value: seq, config: { ...GPT_NANO_RUN, attention: 'eager', batch: 3, seq } })));
  });

  it('sweeps batch and layers for both models, seq for gpt only', () => {
    expect(SWEEP_KEYS).toEqual({ mlp: ['batch', 'layers'], gpt: ['seq', 'batch', 'layers'], llama: ['seq', 'batch', 'layers'], cnn: ['batch', 'blocks'] });
    expect(parseRunArgs(['--sweep', 'batch=8,16', '--d', '8']).sweep?.points.map((p) => p.config)).toEqual([
      { ...DEFAULT_RUN, d: 8, batch: 8 },
      { ...DEFAULT_RUN, d: 8, batch: 16 },
    ]);
    expect(parseRunArgs(['--sweep', 'layers=1,2,3']).sweep?.points.map((p) => ('layers' in p.config ? p.config.layers : 0))).toEqual([1, 2, 3]);
    expect(parseRunArgs(['--model', 'gpt-nano', '--sweep', 'layers=1,4']).sweep?.points.map((p) => p.config)).toEqual([
      { ...GPT_NANO_RUN, layers: 1 },
      { ...GPT_NANO_RUN, layers: 4 },
    ]);
    const sixteen = Array.from({ length: 16 }, (_, i) => i + 1);
    expect(parseRunArgs(['--sweep', `batch=${sixteen.join(',')}`]).sweep?.points).toHaveLength(16);
  });

  it('a second --sweep is refused, as a second of any flag is', () => {
    expect(usage(['--sweep', 'batch=1,2', '--sweep', 'layers=1,2']).message).toBe("--sweep is given twice ('batch=1,2', then 'layers=1,2'); give it once");
  });
});

function capture(): Io & { stdout: string; stderr: string } {
  const io = { stdout: '', stderr: '', env: {}, out: (t: string) => void (io.stdout += t), err: (t: string) => void (io.stderr += t) };
  return io;
}

describe('main run', () => {
  it('a bad flag exits 2 before the engine loads', async () => {
    const io = capture();
    expect(await main(['run', '--batch', '0'], io)).toBe(2);
    expect(io.stdout).toBe('');
    expect(io.stderr).toBe("vramlab run: --batch must be a whole number ≥ 1, got '0'\n");
  });

  it('a bad sweep or a flag of the other model exits 2 before the engine loads', async () => {
    for (const [argv, line] of [
      [['--model', 'mlp', '--sweep', 'seq=8,16'], 'vramlab run: --sweep: seq shapes --model gpt, llama only; --model mlp sweeps batch, layers\n'],
      [['--model', 'gpt', '--d', '8'], 'vramlab run: --d shapes --model mlp only; --model gpt takes --layers, --vocab, --d-model, --heads, --seq, --attention, --lora-rank, --lora-alpha, --qlora\n'],
    ] as const) {
      const io = capture();
      expect(await main(['run', ...argv], io)).toBe(2);
      expect(io.stdout).toBe('');
      expect(io.stderr).toBe(line);
    }
  });

  it('run --help prints the usage', async () => {
    const io = capture();
    expect(await main(['run', '--help'], io)).toBe(0);
    expect(io.stdout).toBe(runUsage());
  });
});

describe('formatRunReport', () => {
  const config = { ...DEFAULT_RUN, d: 16, hidden: 32, steps: 3 };
  const plan = estimate(planConfigOf(config));
  const bytes = { ...plan.bytes, activations: plan.bytes.activations + 2048 };
  const report: RunReport = {
    adapter: { vendor: 'google', architecture: 'swiftshader', device: '', description: 'SwiftShader', features: [], limits: {}, isFallbackAdapter: true },
    config,
    estimate: plan,
    actual: {
      peakBytes: plan.peak.bytes,
      bytes,
      aliveAtPeak: plan.peak.alive,
      allocatedPeakBytes: plan.peak.bytes,
      physicalPeakBytes: plan.peak.bytes + 100,
      stagingBytes: 20,
      liveAfterDisposeBytes: 0,
    },
    timing: { warmupMs: 900, warmupPipelines: 7, stepMs: 12.345, stepsMs: [20, 12.345, 12.345], recordMs: 1.5, phasesMs: { forward: 1, backward: 2.5, recompute: 0, optimizer: 0.25 }, source: 'wall-clock' },
    loss: [0.5, 0.25, 0.125],
    skippedSteps: 0,
    timeline: [{ op: 0, label: 'x', event: 'create' as const, name: 't', category: 'weights' as const, tensorBytes: 0, bytes: zeroCategories() }],
    aliveAtEnd: [],
    work: stepWork(config),
  };

  it('puts estimate, measurement and difference side by side, with timing and loss', () => {
    const text = formatRunReport(report);
    expect(text).toMatch(/^Adapter SwiftShader · google · swiftshader \(fallback/);
    expect(text).toMatch(/^ {2}activations +\S.* \+2\.00 KiB \(\+\d+\.\d%\)$/m);
    expect(text).toMatch(/^ {2}weights +.* exact$/m);
    expect(text).toMatch(/^ {2}peak +.* exact$/m);
    expect(text).toMatch(/^Live after dispose +0 B +everything released$/m);
    expect(text).toMatch(/^Time per step 12\.3 ms/m);
    expect(text).toMatch(/^ {2}recompute +0 ms$/m);
    expect(text).toMatch(/by the wall clock/);
    expect(text).toMatch(/^Loss +0\.500000 → 0\.125000 over 3 steps$/m);
    expect(text).toMatch(/^Skipped 0 steps/m);
  });

  it('formats progress lines', () => {
    expect(formatProgress({ stage: 'step', step: 2, steps: 10, loss: 0.123456789 })).toBe('step  2/10  loss 0.123457\n');
    expect(formatProgress({ stage: 'done', step: 10, steps: 10 })).toBe('');
    expect(formatProgress({ stage: 'allocating', step: 0, steps: 10 })).toBe('allocating the model, its states and the data…\n');
    expect(formatProgress({ stage: 'compiling', step: 0, steps: 10 })).toBe("compiling the step's shaders…\n");
  });
});

describe('formatRunReport and formatSweep for gpt', () => {
  const config: GptRunConfig = { ...GPT_NANO_RUN, vocab: 32, dModel: 16, heads: 2, layers: 1, seq: 8, batch: 2, attention: 'eager', steps: 2 };
  const plan = estimate(planConfigOfGpt(config));
  const adapter = { vendor: 'google', architecture: 'swiftshader', device: '', description: 'SwiftShader', features: [], limits: {}, isFallbackAdapter: true };
  const report: GptRunReport = {
    adapter,
    config,
    estimate: plan,
    actual: {
      peakBytes: plan.peak.bytes,
      bytes: plan.bytes,
      aliveAtPeak: plan.peak.alive,
      allocatedPeakBytes: plan.peak.bytes,
      physicalPeakBytes: plan.peak.bytes,
      stagingBytes: 20,
      liveAfterDisposeBytes: 0,
    },
    timing: { warmupMs: 900, warmupPipelines: 7, stepMs: 50, stepsMs: [60, 50], recordMs: 2, phasesMs: { forward: 10, backward: 30, recompute: 0, optimizer: 1 }, source: 'timestamp-query' },
    loss: [3.5, 3.25],
    skippedSteps: 0,
    timeline: [],
    aliveAtEnd: [],
    work: stepWork(config),
  };

  it('shows the gpt shape line and its default learning rate', () => {
    const text = formatRunReport(report);
    expect(text).toMatch(/^Model {3}gpt vocab 32, d-model 16, 2 heads, 1 layer, seq 8, attention eager: [\d,]+ params/m);
    expect(text).toMatch(/^Setup {3}batch 2 · fp32 · adam \(lr 0\.003\) · checkpoint none · 2 steps · seed 1$/m);
    expect(text).toMatch(/^ {2}peak +.* exact$/m);
  });

  it('a sweep line holds the point, the estimate, the measurement, the timing and the first and last loss', () => {
    expect(sweepLine('seq', 8, report)).toEqual({
      point: { seq: 8 },
      estimate: { peakBytes: plan.peak.bytes, bytes: plan.bytes },
      actual: { peakBytes: plan.peak.bytes, bytes: plan.bytes, allocatedPeakBytes: plan.peak.bytes, liveAfterDisposeBytes: 0 },
      timing: report.timing,
      loss: [3.5, 3.25],
    });
  });

  it('the sweep table has a row per point; a refused point keeps its reason on its row', () => {
    const lines: SweepLine[] = [
      sweepLine('seq', 8, report),
      { point: { seq: 65536 }, error: { name: 'BufferTooLarge', message: "The tensor 'h0.attn.probs' needs 68719476736 B" } },
      sweepLine('seq', 16, { ...report, timing: { ...report.timing, stepMs: 123.4 } }),
    ];
    const text = formatSweep(adapter, config, 'seq', lines);
    expect(text).toMatch(/^Model {3}gpt vocab 32, d-model 16, 2 heads, 1 layer, seq \{8, 65536, 16\}, attention eager$/m);
    expect(text).toMatch(/^ {2}seq +estimated activations +measured activations +estimated peak +measured peak +step ms$/m);
    expect(text).toMatch(/^ {2}8 +\S+ KiB +\S+ KiB +\S+ KiB +\S+ KiB +50\.0$/m);
    expect(text).toMatch(/^ {2}65536 +cannot run: The tensor 'h0\.attn\.probs' needs 68719476736 B$/m);
    expect(text).toMatch(/^ {2}16 +.* 123$/m);
  });

  it('an mlp sweep over layers shows the swept values in the model line', () => {
    const mlp = { ...DEFAULT_RUN, d: 16, hidden: 32 };
    const text = formatSweep(adapter, mlp, 'layers', [{ point: { layers: 1 }, error: { name: 'OutOfMemory', message: 'x' } }, { point: { layers: 3 }, error: { name: 'OutOfMemory', message: 'y' } }]);
    expect(text).toMatch(/^Model {3}mlp d 16, hidden 32, layers \{1, 3\}, gelu$/m);
  });
});

describe('error lines stay one printable line', () => {
  it('folds newlines and escapes terminal control characters echoed from the input', async () => {
    const io = capture();
    expect(await main(['estimate', '--batch', '1\n2\u001b[31m'], io)).toBe(2);
    expect(io.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(io.stderr).not.toContain('\u001b');
    expect(io.stderr).toContain('\\x1b');
    const long = capture();
    expect(await main(['estimate', `--${'x'.repeat(5000)}`], long)).toBe(2);
    expect(long.stderr.length).toBeLessThan(600);
  });
});
