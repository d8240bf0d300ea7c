#!/usr/bin/env node
// CPU time per training step of two checkouts of vramlab, alternated process by process:
//
//   node scripts/ab-steps.mjs OLD_DIR [NEW_DIR] [--model mlp|gpt-nano] [--rounds 4] [--short 2] [--long 8]
//
// OLD_DIR and NEW_DIR (default: this checkout) are checkouts with their node_modules installed
// (e.g. `git worktree add ../vramlab-old <commit> && (cd ../vramlab-old && npm ci)`). Each round
// runs `bin/vramlab.mjs run --model M --steps S --json` of both, for S = short and long, the order
// of the two checkouts swapped every round, so a change of the machine's load reaches both. A
// step's CPU time is (cpu(long) − cpu(short)) / (long − short), where cpu is user + system time of
// the finished child and everything it ran (SwiftShader's threads included): start-up, pipeline
// compiles and set-up cancel out. Prints a line per run and, last, one JSON line: per checkout the
// median ms per step, and old ÷ new per round as median, min and max. Linux only (reads the
// children's CPU time from /proc/self/stat).
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const MODELS = { mlp: ['--model', 'mlp', '--layers', '4'], 'gpt-nano': ['--model', 'gpt-nano'] };

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    model: { type: 'string', default: 'gpt-nano' },
    rounds: { type: 'string', default: '4' },
    short: { type: 'string', default: '2' },
    long: { type: 'string', default: '8' },
  },
});
const fail = (msg) => {
  process.stderr.write(`ab-steps: ${msg}\n`);
  process.exit(2);
};
if (positionals.length < 1 || positionals.length > 2) fail('give the old checkout and optionally the new one (default: this checkout)');
if (!(values.model in MODELS)) fail(`--model must be one of ${Object.keys(MODELS).join(', ')}`);
const [rounds, short, long] = [values.rounds, values.short, values.long].map(Number);
if (![rounds, short, long].every(Number.isInteger) || rounds < 1 || short < 1 || long <= short) fail('--rounds ≥ 1 and 1 ≤ --short < --long, integers');
const trees = { old: resolve(positionals[0]), new: resolve(positionals[1] ?? fileURLToPath(new URL('..', import.meta.url))) };

/** User + system seconds of this process's waited-for children (fields 16 and 17 of /proc/self/stat, in clock ticks). */
function childrenCpu() {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state): cutime is field 16, cstime field 17.
  return (Number(fields[13]) + Number(fields[14])) / 100;
}

function run(tree, steps) {
  const before = childrenCpu();
  const p = spawnSync(process.execPath, ['bin/vramlab.mjs', 'run', ...MODELS[values.model], '--steps', String(steps), '--json'], { cwd: tree, encoding: 'utf8', maxBuffer: 64 << 20 });
  const cpu = childrenCpu() - before;
  if (p.status !== 0) fail(`${tree}: run exited ${p.status}: ${(p.stderr || '').trim().split('\n').at(-1)}`);
  const report = JSON.parse(p.stdout.trim().split('\n').at(-1));
  return { cpu, loss: report.loss.at(-1) };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const perStep = { old: [], new: [] };
const ratios = [];
for (let r = 0; r < rounds; r++) {
  const order = r % 2 === 0 ? ['old', 'new'] : ['new', 'old'];
  const ms = {};
  for (const label of order) {
    const a = run(trees[label], short);
    const b = run(trees[label], long);
    ms[label] = ((b.cpu - a.cpu) / (long - short)) * 1000;
    perStep[label].push(ms[label]);
    console.log(`${values.model} round ${r} ${label}: ${ms[label].toFixed(0)} ms CPU/step, last loss ${b.loss.toFixed(6)}`);
  }
  ratios.push(ms.old / ms.new);
}
console.log(
  JSON.stringify({
    model: values.model,
    rounds,
    steps: [short, long],
    oldMsPerStep: median(perStep.old),
    newMsPerStep: median(perStep.new),
    oldOverNew: { median: median(ratios), min: Math.min(...ratios), max: Math.max(...ratios) },
    loadavg: readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number),
  }),
);
