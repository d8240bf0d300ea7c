/** Usage texts, generated from the flag tables so every flag, its values and default appear. */
import { DEFAULT_PLAN } from '../protocol/config.ts';
import { DEFAULT_RUN } from '../protocol/run.ts';
import { ESTIMATE_FLAGS, RUN_FLAGS, flagDefault, type FlagGroup, type FlagSpec } from './args.ts';

const GROUP_TITLES: Record<FlagGroup, string> = {
  model: 'Model',
  run: 'Training or inference setup',
  output: 'Output',
};

export function topUsage(version: string): string {
  return [
    `vramlab ${version}: will this training run fit on a GPU, and why?`,
    '',
    'Usage:',
    '  vramlab estimate [flags]   predict the GPU memory of a training step or inference',
    '  vramlab run [flags]        train an MLP on this GPU and measure its memory against the estimate',
    '  vramlab --help             this text',
    '  vramlab --version          the version',
    '',
    "Run 'vramlab estimate --help' or 'vramlab run --help' for the flags.",
    '',
  ].join('\n');
}

/** `modelIds`: the presets estimate/ knows, listed under --model. */
export function estimateUsage(modelIds: readonly string[]): string {
  const lines = [
    'Usage: vramlab estimate [flags]',
    '',
    'Predicts the memory one GPU needs for the step: per category, the peak and what is alive at',
    'it, the textbook rule of thumb, CUDA context and allocator overhead, and which GPUs it fits.',
  ];
  lines.push(
    ...flagLines(ESTIMATE_FLAGS, DEFAULT_PLAN, (f, indent) =>
      f.name === 'model' ? wrap(`one of: ${[...modelIds, 'hf'].filter(unique).join(', ')}`, 96 - indent.length) : [],
    ),
  );
  lines.push(
    '',
    'Examples:',
    '  vramlab estimate --model llama-3.1-8b --batch 4 --seq 2048 --lora-rank 16 --qlora',
    '  vramlab estimate --model mlp --d 4096 --hidden 16384 --layers 8 --precision fp32 --json',
    '  vramlab estimate --hf-config ./config.json --mode inference --precision bf16 --seq 8192 --gpu-memory 24',
    '  vramlab estimate --model resnet50 --image-size 224 --batch 64 --precision amp-fp16',
    '',
  );
  return lines.join('\n');
}

function unique<T>(v: T, i: number, all: readonly T[]): boolean {
  return all.indexOf(v) === i;
}

function wrap(text: string, width: number): string[] {
  const out: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && line.length + 1 + word.length > width) {
      out.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  if (line) out.push(line);
  return out;
}

export function runUsage(): string {
  return [
    'Usage: vramlab run [flags]',
    '',
    'Trains an MLP on this machine\'s GPU (WebGPU through Dawn; SwiftShader on the CPU when there',
    'is no GPU driver), records every buffer in the ledger, and prints the measured memory per',
    'category and at the peak next to the estimate, the time per phase, and the loss.',
    ...flagLines(RUN_FLAGS, DEFAULT_RUN),
    '',
    'Exit status: 0 done; 2 bad flags, or a configuration this device cannot hold (one line naming',
    'the tensor and the limit); 1 no usable GPU, or a bug.',
    '',
    'Examples:',
    '  vramlab run --d 64 --hidden 256 --layers 2 --batch 32 --steps 10',
    '  vramlab run --d 256 --hidden 1024 --layers 4 --precision amp-bf16 --optimizer adamw --checkpoint sqrt --json',
    '',
  ].join('\n');
}

/** The flags of one table by group, each with its values and default; `extra` adds lines under a flag. */
function flagLines(flags: readonly FlagSpec[], defaults: object, extra: (f: FlagSpec, indent: string) => string[] = () => []): string[] {
  const lines: string[] = [];
  const left = (f: FlagSpec) => `${f.short ? `-${f.short}, ` : ''}--${f.name}${f.arg ? ` ${f.arg}` : ''}`;
  const width = Math.max(...flags.map((f) => left(f).length)) + 2;
  const indent = ' '.repeat(2 + width);
  for (const group of Object.keys(GROUP_TITLES) as FlagGroup[]) {
    const inGroup = flags.filter((x) => x.group === group);
    if (inGroup.length === 0) continue;
    lines.push('', `${GROUP_TITLES[group]}:`);
    for (const f of inGroup) {
      const def = flagDefault(f, defaults);
      lines.push(`  ${left(f).padEnd(width)}${f.help}${def !== undefined ? ` (default ${def})` : ''}`);
      if (f.values && f.values.length > 1) lines.push(`${indent}one of: ${f.values.join(', ')}`);
      lines.push(...extra(f, indent).map((l) => indent + l));
    }
  }
  return lines;
}
