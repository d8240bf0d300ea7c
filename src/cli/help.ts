/** Usage texts, generated from the flag tables so every flag, its values and default appear. */
import { DEFAULT_PLAN } from '../protocol/config.ts';
import { BENCH_FLAGS, ESTIMATE_FLAGS, RUN_DEFAULTS, RUN_FLAGS, RUN_MODELS, flagDefault, runFlagsFor, type FlagGroup, type FlagSpec, type RunModel } from './args.ts';

const GROUP_TITLES: Record<FlagGroup, string> = {
  model: 'Model',
  mlp: 'mlp model (--model mlp)',
  gpt: 'gpt model (--model gpt or gpt-nano)',
  cnn: 'CNN models (--model cnn-mnist or cnn-cifar)',
  run: 'Training or inference setup',
  parallel: 'Many GPUs (training; --tp also for inference): --gpus = tp × pp × cp × dp',
  host: 'Offload and host memory',
  bench: 'Work',
  output: 'Output',
};

export function topUsage(version: string): string {
  return [
    `vramlab ${version}: will this training run fit on a GPU, and why?`,
    '',
    'Usage:',
    '  vramlab estimate [flags]   predict the GPU memory of a training step or inference',
    '  vramlab fit --gpu-memory GiB [flags]',
    '                             what to change so the step fits that GPU, cheapest first, and the',
    '                             largest batch and sequence that fit',
    '  vramlab compare --snapshot FILE.pickle [flags]',
    '                             a PyTorch memory snapshot replayed to its peak and per-phase peaks,',
    '                             beside the estimate of the same plan, with the error per phase',
    '  vramlab run [flags]        train an MLP or a small GPT on this GPU and measure its memory against',
    '                             the estimate; --sweep repeats it over seq, batch or layers',
    '  vramlab bench [flags]      time vramlab and TensorFlow.js (WebGPU) on the same matmuls and training',
    '                             steps on this GPU, with their memory',
    '  vramlab --help             this text',
    '  vramlab --version          the version',
    '',
    "Run 'vramlab estimate --help', 'vramlab fit --help', 'vramlab compare --help', 'vramlab run --help' or 'vramlab bench --help' for the flags.",
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
    '  vramlab estimate --model llama-2-7b --batch 8 --seq 4096 --tp 4 --sp --pp 4 --microbatches 8 --gpus 32 --zero 1',
    '  vramlab estimate --model llama-3.2-1b --zero 2 --gpus 8 --offload optimizer --host-memory 512',
    '  vramlab estimate --model llama-2-7b --mode inference --gpu-layers 16 --kv-dtype q8_0 --host-memory 64',
    '',
  );
  return lines.join('\n');
}

/** `vramlab fit`: the estimate flags, with --gpu-memory as the (required) capacity. */
export function fitUsage(modelIds: readonly string[]): string {
  const flags = ESTIMATE_FLAGS.map((f) =>
    f.name === 'gpu-memory'
      ? { ...f, help: 'the GPU size to fit in (required)' }
      : f.name === 'json'
        ? { ...f, help: 'print the result as one JSON object' }
        : f,
  );
  const lines = [
    'Usage: vramlab fit --gpu-memory GiB [flags]',
    '',
    'Lists the changes that bring the step under --gpu-memory (peak + CUDA context + allocator, as in',
    "estimate's fit list), each with its new total and its cost, cheapest first: fused attention, an",
    '8-bit or factored optimizer, checkpointing (by the extra FLOPs of its recomputation), mixed or',
    '16-bit precision, a smaller micro-batch with gradient accumulation, LoRA/QLoRA, ZeRO over more',
    'GPUs, a shorter sequence (inference: precision, batch, sequence). When no single change fits,',
    'combinations are tried. Then the largest batch and sequence that fit with all else as it is.',
    'Only what applies to the model and mode is tried. The other flags are those of vramlab estimate.',
  ];
  lines.push(
    ...flagLines(flags, DEFAULT_PLAN, (f, indent) =>
      f.name === 'model' ? wrap(`one of: ${[...modelIds, 'hf'].filter(unique).join(', ')}`, 96 - indent.length) : [],
    ),
  );
  lines.push(
    '',
    'Exit status: 0 done (also when nothing fits: the result says so); 2 bad flags.',
    '',
    'Examples:',
    '  vramlab fit --gpu-memory 24 --model llama-3.2-1b --batch 4 --seq 2048',
    '  vramlab fit --gpu-memory 8 --model gpt2-small --batch 8 --seq 1024 --precision fp32 --json',
    '  vramlab fit --gpu-memory 16 --model llama-2-7b --mode inference --seq 4096 --batch 8',
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
  const nano = RUN_DEFAULTS.gpt;
  return [
    'Usage: vramlab run [flags]',
    '',
    "Trains a model on this machine's GPU (WebGPU through Dawn; SwiftShader on the CPU when there",
    'is no GPU driver), records every buffer in the ledger, and prints the measured memory per',
    'category and at the peak next to the estimate, the time per phase, and the loss.',
    '',
    'Models: mlp (the default), a residual MLP on a regression task; gpt, a GPT-style decoder that',
    `learns to count (next token = token + 1 mod vocab), starting from gpt-nano: vocab ${nano.vocab},`,
    `d-model ${nano.dModel}, ${nano.heads} heads, ${nano.layers} layers, seq ${nano.seq}, batch ${nano.batch}, ${nano.attention} attention;`,
    'cnn-mnist (LeNet-5, 1×28×28) and cnn-cifar (ResNet-20 for CIFAR-10, --blocks and --width scale it),',
    'which classify a seeded synthetic image set.',
    '',
    '--sweep KEY=V1,V2,… runs the same configuration once per value, one after another, and prints',
    'per point the estimated and measured activations and peak and the time per step (with --json',
    'one JSON line per point), so the terms that grow with seq (s² with --attention eager), batch',
    'or layers can be read off. A point the device cannot hold is reported on its line, the sweep',
    'goes on, and the exit status is 2.',
    ...flagLines(RUN_FLAGS, RUN_DEFAULTS.mlp, runFlagExtra, runFlagDefault),
    '',
    'Exit status: 0 done; 2 bad flags, or a configuration this device cannot hold (one line naming',
    'the tensor and the limit; with --sweep, any point); 1 no usable GPU, or a bug.',
    '',
    'Examples:',
    '  vramlab run --d 64 --hidden 256 --layers 2 --batch 32 --steps 10',
    '  vramlab run --d 256 --hidden 1024 --layers 4 --precision amp-bf16 --optimizer adamw --checkpoint sqrt --json',
    '  vramlab run --model gpt-nano',
    '  vramlab run --model gpt --vocab 64 --d-model 32 --heads 4 --layers 2 --seq 32 --batch 4 --precision amp-bf16 --checkpoint selective',
    '  vramlab run --model cnn-cifar --blocks 1 --width 8 --batch 4 --precision amp-bf16 --checkpoint full --json',
    '  vramlab run --model gpt --attention eager --sweep seq=32,64,128 --steps 3',
    '  vramlab run --model mlp --sweep batch=8,16,32,64 --steps 3 --json',
    '  vramlab run --steps 3 --trace step.trace.json --memory-snapshot step.pickle',
    '  vramlab run --model mlp --sweep layers=2,4,8 --steps 3 --format csv > sweep.csv',
    '',
  ].join('\n');
}

/** `vramlab compare`: --snapshot and the estimate flags. */
export function compareUsage(): string {
  const flags: FlagSpec[] = [
    { name: 'snapshot', group: 'model', kind: 'path', arg: 'PATH', help: 'the .pickle torch.cuda.memory._dump_snapshot() wrote (required)' },
    ...ESTIMATE_FLAGS.map((f) => (f.name === 'json' ? { ...f, help: 'print the comparison as one JSON object' } : f.name === 'format' ? { ...f, help: 'text, json (as --json) or csv (one row per phase)' } : f)),
  ];
  return [
    'Usage: vramlab compare --snapshot FILE.pickle [flags]',
    '',
    'Replays a PyTorch memory snapshot (record a training step with',
    'torch.cuda.memory._record_memory_history(), then torch.cuda.memory._dump_snapshot("FILE.pickle"))',
    'the way pytorch.org/memory_viz does: its peak allocated bytes and the peak of each phase',
    '(forward, backward, optimizer, told apart by the frames of each allocation), beside the estimate',
    'of the plan the other flags describe (framework pytorch by default), with the error per phase.',
    'The file is read as data only: no Python code in it runs; it may be at most 256 MiB.',
    ...flagLines(flags, DEFAULT_PLAN),
    '',
    'Exit status: 0 done; 2 bad flags or a file that is not a memory snapshot (one line saying why).',
    '',
    'Examples:',
    '  vramlab compare --snapshot step.pickle --model gpt2-small --batch 8 --seq 1024 --precision amp-bf16',
    '  vramlab compare --snapshot step.pickle --hf-config ./config.json --batch 4 --seq 2048 --json',
    '',
  ].join('\n');
}

export function benchUsage(): string {
  return [
    'Usage: vramlab bench [flags]',
    '',
    "Runs the same work on vramlab's engine and on TensorFlow.js's WebGPU backend, alternated",
    'iteration by iteration in this process, on the adapter Dawn finds: f32 matmuls (1024, 2048,',
    '4096; with --quick 64, 128, 256), Adam training steps of the mlp model (4 blocks, d 1024 hidden',
    '4096 batch 512 and d 4096 hidden 16384 batch 2048, the latter also in amp-bf16 on vramlab alone;',
    'with --quick d 64, d 128 and d 128 amp-bf16) and of a GPT (d 768, 4 layers, seq 512, batch 8;',
    'with --quick gpt-nano). Per item: median ms, GFLOP/s, TF.js ms ÷ vramlab ms per alternated pair',
    '(median, quartiles, range), and bytes in use at the peak next to bytes allocated from the GPU,',
    'with the adapter and its features. Where nvidia-smi exists, the matmul lines also compare its',
    'memory.used with the ledger.',
    '',
    'The matmul tile size comes from --tune (then cached per adapter), else the cache, else a default.',
    'On a CPU (fallback) adapter the --quick shapes run even without --quick: the full ones take hours.',
    ...flagLines(BENCH_FLAGS, {}),
    '',
    'Exit status: 0 done; 2 bad flags; 1 no usable GPU, an engine failed on an item (its line says',
    'why), or a bug.',
    '',
    'Examples:',
    '  vramlab bench --quick',
    '  vramlab bench --tune --json > bench.jsonl',
    '  vramlab bench --only matmul --no-tfjs',
    '',
  ].join('\n');
}

/** Per-model defaults longer than this go on their own lines under the flag. */
const INLINE_DEFAULT = 12;

/** A run flag's default for each model it applies to: "2" when they agree, else "mlp: 32; gpt: 4". */
function runFlagDefault(f: FlagSpec): string | undefined {
  const defs = perModelDefaults(f);
  if (defs.every(([, d]) => d === defs[0]![1])) return defs[0]![1];
  if (defs.some(([, d]) => (d ?? '').length > INLINE_DEFAULT)) return f.defaultText;
  return defs.map(([m, d]) => `${m}: ${d}`).join('; ');
}

function perModelDefaults(f: FlagSpec): (readonly [RunModel, string | undefined])[] {
  return (f.models ?? RUN_MODELS).map((m) => [m, flagDefault(runFlagsFor(m).find((g) => g.name === f.name)!, RUN_DEFAULTS[m])] as const);
}

/** What differs for one model and did not fit the flag's line: its values, a long default. */
function runFlagExtra(f: FlagSpec): string[] {
  const defs = new Map(perModelDefaults(f));
  const long = runFlagDefault(f) === f.defaultText && new Set(defs.values()).size > 1;
  return RUN_MODELS.flatMap((m) => {
    const values = f.byModel?.[m]?.values;
    return [...(values ? [`${m} takes ${values.join(', ')}`] : []), ...(long && defs.has(m) ? [`${m} default: ${defs.get(m)}`] : [])];
  });
}

/**
 * The flags of one table by group, each with its values and default; `extra` adds lines under a
 * flag, `defaultOf` replaces the lookup of its default in `defaults`.
 */
function flagLines(
  flags: readonly FlagSpec[],
  defaults: object,
  extra: (f: FlagSpec, indent: string) => string[] = () => [],
  defaultOf: (f: FlagSpec) => string | undefined = (f) => flagDefault(f, defaults),
): string[] {
  const lines: string[] = [];
  const left = (f: FlagSpec) => `${f.short ? `-${f.short}, ` : ''}--${f.name}${f.arg ? ` ${f.arg}` : ''}`;
  const width = Math.max(...flags.map((f) => left(f).length)) + 2;
  const indent = ' '.repeat(2 + width);
  for (const group of Object.keys(GROUP_TITLES) as FlagGroup[]) {
    const inGroup = flags.filter((x) => x.group === group);
    if (inGroup.length === 0) continue;
    lines.push('', `${GROUP_TITLES[group]}:`);
    for (const f of inGroup) {
      const def = defaultOf(f);
      lines.push(`  ${left(f).padEnd(width)}${f.help}${def !== undefined ? ` (default ${def})` : ''}`);
      if (f.values && f.values.length > 1) lines.push(`${indent}one of: ${f.values.join(', ')}`);
      lines.push(...extra(f, indent).map((l) => indent + l));
    }
  }
  return lines;
}
