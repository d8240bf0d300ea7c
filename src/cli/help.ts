/** Usage texts, generated from ESTIMATE_FLAGS so every flag, its values and default appear. */
import { ESTIMATE_FLAGS, flagDefault, type FlagGroup, type FlagSpec } from './args.ts';

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
    '  vramlab --help             this text',
    '  vramlab --version          the version',
    '',
    "Run 'vramlab estimate --help' for the flags.",
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
  const left = (f: FlagSpec) => `${f.short ? `-${f.short}, ` : ''}--${f.name}${f.arg ? ` ${f.arg}` : ''}`;
  const width = Math.max(...ESTIMATE_FLAGS.map((f) => left(f).length)) + 2;
  const indent = ' '.repeat(2 + width);
  for (const group of Object.keys(GROUP_TITLES) as FlagGroup[]) {
    lines.push('', `${GROUP_TITLES[group]}:`);
    for (const f of ESTIMATE_FLAGS.filter((x) => x.group === group)) {
      const def = flagDefault(f);
      lines.push(`  ${left(f).padEnd(width)}${f.help}${def !== undefined ? ` (default ${def})` : ''}`);
      if (f.values) lines.push(`${indent}one of: ${f.values.join(', ')}`);
      if (f.name === 'model') lines.push(...wrap(`one of: ${[...modelIds, 'hf'].filter(unique).join(', ')}`, 96 - indent.length).map((l) => indent + l));
    }
  }
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
