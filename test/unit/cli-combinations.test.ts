/**
 * Flag combinations that mean nothing: each is refused in one line (exit 2) or answered with a
 * note in the output, never silently ignored.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseBenchArgs, parseEstimateArgs, parseRunArgs } from '../../src/cli/args.ts';
import { main, type Io } from '../../src/cli/main.ts';
import { estimate, EstimateError } from '../../src/estimate/index.ts';
import { parseHfConfig } from '../../src/estimate/hf.ts';
import { DEFAULT_PLAN } from '../../src/protocol/config.ts';
import type { Plan } from '../../src/protocol/plan.ts';
import { usageErrorOf } from '../helpers/usage.ts';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures');
const fixture = (name: string) => JSON.parse(readFileSync(join(FIXTURES, name), 'utf8')) as Record<string, unknown>;

async function run(argv: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  const io: Io & { stdout: string; stderr: string } = {
    stdout: '',
    stderr: '',
    env: {},
    out: (t) => void (io.stdout += t),
    err: (t) => void (io.stderr += t),
  };
  const status = await main(argv, io);
  return { status, stdout: io.stdout, stderr: io.stderr };
}

/** Exit 2 and one line on stderr matching `line`. */
async function expectRefused(argv: string[], line: RegExp): Promise<void> {
  const r = await run(argv);
  expect(r.status, r.stderr).toBe(2);
  expect(r.stdout).toBe('');
  expect(r.stderr.trimEnd().split('\n'), r.stderr).toHaveLength(1);
  expect(r.stderr.trimEnd()).toMatch(line);
}

async function plan(argv: string[]): Promise<Plan> {
  const r = await run(['estimate', ...argv, '--json']);
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as Plan;
}

describe('--mode inference', () => {
  it.each([
    ['--optimizer', 'sgd', /^vramlab estimate: --optimizer applies to training only; drop it with --mode inference \(an inference forward updates no weights\)$/],
    ['--checkpoint', 'full', /^vramlab estimate: --checkpoint applies to training only; .*nothing to recompute/],
    ['--micro-batch', '2', /^vramlab estimate: --micro-batch applies to training only; .*gradient accumulation/],
  ])('refuses %s %s, as it refuses --zero and --lora-rank', async (flag, value, line) => {
    await expectRefused(['estimate', '--model', 'gpt2-small', '--mode', 'inference', flag, value], line);
    // Fine for training.
    expect((await run(['estimate', '--model', 'gpt2-small', '--batch', '4', flag, value])).status).toBe(0);
  });

  it('still refuses --zero and --lora-rank', async () => {
    await expectRefused(['estimate', '--mode', 'inference', '--zero', '1', '--gpus', '2'], /--zero/);
    await expectRefused(['estimate', '--mode', 'inference', '--lora-rank', '8'], /LoRA is for training/);
  });
});

describe('flags of another kind of model', () => {
  it.each([
    ['resnet50', '--attention', 'eager', /^vramlab estimate: --attention applies to transformer models .* only; model 'resnet50' has no attention/],
    ['resnet50', '--seq', '256', /^vramlab estimate: --seq applies to transformer models .* only; model 'resnet50' has no sequence/],
    ['mlp', '--attention', 'fused', /--attention applies to transformer models .*model 'mlp' has no attention/],
    ['mlp', '--seq', '64', /--seq applies to transformer models .*model 'mlp' has no sequence/],
    ['gpt2-small', '--image-size', '128', /^vramlab estimate: --image-size applies to image models \(ResNet, ViT, VLM, EfficientNet, diffusion, GAN\) only; model 'gpt2-small' takes no images$/],
  ])('%s with %s %s is refused', async (model, flag, value, line) => {
    await expectRefused(['estimate', '--model', model, flag, value], line);
  });

  it('a transformer takes --seq and --attention, a ResNet --image-size', async () => {
    expect((await run(['estimate', '--model', 'gpt2-small', '--seq', '128', '--attention', 'eager'])).status).toBe(0);
    expect((await run(['estimate', '--model', 'resnet50', '--image-size', '128'])).status).toBe(0);
  });
});

describe('--lora-rank', () => {
  it('above the narrowest adapted projection is refused, naming the width', async () => {
    await expectRefused(['estimate', '--model', 'gpt2-small', '--lora-rank', '4096'], /^vramlab estimate: LoRA rank 4096 is above the rank of .*narrowest adapted projection \(768\).*use a rank of 768 or less/);
    expect(() => estimate({ ...DEFAULT_PLAN, model: 'gpt2-small', loraRank: 769 })).toThrow(EstimateError);
  });

  it('that trains no fewer parameters than the model says so in a note', async () => {
    const p = await plan(['--model', 'gpt2-small', '--lora-rank', '768']);
    expect(p.model.trainableParams).toBeGreaterThan(p.model.params);
    expect(p.notes).toContainEqual(expect.stringMatching(/^LoRA rank 768 trains 127,401,984 parameters, no fewer than the model's 124,439,808: full fine-tuning \(--lora-rank 0\) trains fewer$/));
    const small = await plan(['--model', 'gpt2-small', '--lora-rank', '8']);
    expect(small.notes.some((n) => n.startsWith('LoRA rank'))).toBe(false);
  });
});

describe('--zero with one GPU', () => {
  it('says it shards nothing, and no note speaks of sharding across GPUs', async () => {
    const one = await plan(['--model', 'gpt2-small', '--zero', '3', '--gpus', '1']);
    expect(one.notes).toContain('ZeRO-3 with 1 GPU shards nothing: every byte stays on the one GPU; set --gpus to the data-parallel size');
    expect(one.notes.join(' ')).not.toMatch(/sharded across/);
    const four = await plan(['--model', 'gpt2-small', '--zero', '3', '--gpus', '4']);
    expect(four.notes).toContainEqual(expect.stringMatching(/sharded across 4 GPUs/));
    expect(four.notes.join(' ')).not.toMatch(/shards nothing/);
  });
});

describe('config.json: architectures[0] against model_type', () => {
  it.each([
    ['llama-3.2-1b.config.json', 'BertForMaskedLM', /architectures\[0\] 'BertForMaskedLM' is a bert class, but model_type is 'llama'/],
    ['bert-base-cased.config.json', 'LlamaForCausalLM', /'LlamaForCausalLM' is a llama class, but model_type is 'bert'/],
    ['gemma-2b.config.json', 'Gemma2ForCausalLM', /'Gemma2ForCausalLM' is a gemma2 class, but model_type is 'gemma'/],
    ['gpt2.config.json', 'FancyForCausalLM', /'FancyForCausalLM' is not a gpt2 class, but model_type is 'gpt2'/],
  ])('%s naming %s is refused', (file, arch, message) => {
    expect(() => parseHfConfig({ ...fixture(file), architectures: [arch] })).toThrow(message);
  });

  it('a class of the family in another casing is read (early LLaMA configs name LLaMAForCausalLM)', () => {
    expect(() => parseHfConfig({ ...fixture('llama-3.2-1b.config.json'), architectures: ['LLaMAForCausalLM'] })).not.toThrow();
  });

  it('every fixture, naming its own class, is read', () => {
    for (const f of ['llama-3.2-1b', 'bert-base-cased', 'gemma-2b', 'gpt2', 'qwen2.5-0.5b']) expect(() => parseHfConfig(fixture(`${f}.config.json`))).not.toThrow();
  });
});

describe('config.json: activation names', () => {
  it.each([
    ['gpt2.config.json', 'activation_function', 'swiglu'],
    ['bert-base-cased.config.json', 'hidden_act', 'relu'],
    ['llama-3.2-1b.config.json', 'hidden_act', 'gelu_pytroch_tanh'],
    ['gemma-2b.config.json', 'hidden_activation', 'geglu'],
  ])('%s with %s %s is refused, not counted as gelu', (file, field, name) => {
    expect(() => parseHfConfig({ ...fixture(file), [field]: name })).toThrow(new RegExp(`${field} '${name}' is not an activation vramlab knows for this model; known: `));
  });

  it.each([
    ['gpt2.config.json', 'activation_function', 'gelu_new', 'gelu-new-python'],
    ['gpt2.config.json', 'activation_function', 'gelu_pytorch_tanh', 'gelu-tanh'],
    ['llama-3.2-1b.config.json', 'hidden_act', 'swish', 'silu'],
    ['gemma-2b.config.json', 'hidden_activation', 'gelu_pytorch_tanh', 'gelu-tanh'],
  ])('%s with %s %s is %s', (file, field, name, act) => {
    expect(parseHfConfig({ ...fixture(file), [field]: name }).act).toBe(act);
  });
});

describe('a flag given twice', () => {
  it.each([
    ['estimate', () => parseEstimateArgs(['--batch', '4', '--seq', '128', '--batch', '8']), /^--batch is given twice \('4', then '8'\); give it once$/],
    ['estimate', () => parseEstimateArgs(['--precision=fp32', '--precision', 'fp32']), /^--precision is given twice \('fp32' both times\); give it once$/],
    ['run', () => parseRunArgs(['--steps', '3', '--steps', '5']), /^--steps is given twice/],
    ['bench', () => parseBenchArgs(['--only', 'matmul', '--only', 'gpt']), /^--only is given twice/],
  ])('%s: refused, naming both values', (_, parse, message) => {
    expect(usageErrorOf(parse, []).message).toMatch(message);
  });

  it('a switch given twice means the same and passes', () => {
    expect(parseEstimateArgs(['--json', '--json']).json).toBe(true);
  });
});
