/**
 * `--model org/name` from a (fake) Hugging Face cache, and `--model path/to/folder`: the same
 * estimate as --hf-config with that config.json, the cache found where huggingface_hub puts it,
 * and a model that is not there refused in one line that says where it looked.
 */
import { cpSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main, type Io } from '../../src/cli/main.ts';
import { hubCacheDir, resolveModelConfig } from '../../src/cli/hf-cache.ts';
import { ROOT } from '../helpers/cli.ts';

const dir = mkdtempSync(join(tmpdir(), 'vramlab-hf-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const fixture = (name: string) => join(ROOT, 'test', 'fixtures', `${name}.config.json`);

/** A hub cache holding `repo` with one snapshot per entry of `snapshots` (commit → fixture name), oldest first. */
function fakeCache(root: string, repo: string, snapshots: [string, string][], main?: string): string {
  const model = join(root, `models--${repo.replace('/', '--')}`);
  snapshots.forEach(([commit, name], i) => {
    const snap = join(model, 'snapshots', commit);
    mkdirSync(snap, { recursive: true });
    cpSync(fixture(name), join(snap, 'config.json'));
    const t = new Date(Date.UTC(2025, 0, 1 + i));
    utimesSync(snap, t, t);
  });
  if (main !== undefined) {
    mkdirSync(join(model, 'refs'), { recursive: true });
    writeFileSync(join(model, 'refs', 'main'), main);
  }
  return root;
}

async function cli(argv: string[], env: Record<string, string | undefined>) {
  const io: Io & { stdout: string; stderr: string } = { stdout: '', stderr: '', env, out: (t) => void (io.stdout += t), err: (t) => void (io.stderr += t) };
  const status = await main(argv, io);
  return { status, stdout: io.stdout, stderr: io.stderr };
}

describe('hubCacheDir', () => {
  it.each([
    [{ HF_HUB_CACHE: '/a/hub', HF_HOME: '/b', XDG_CACHE_HOME: '/c' }, '/a/hub'],
    [{ HF_HOME: '/b', XDG_CACHE_HOME: '/c' }, '/b/hub'],
    [{ XDG_CACHE_HOME: '/c' }, '/c/huggingface/hub'],
    [{}, '/home/u/.cache/huggingface/hub'],
  ])('%j → %s', (env, want) => {
    expect(hubCacheDir({ env, home: '/home/u' })).toBe(want);
  });
});

describe('--model org/name from the Hugging Face cache', () => {
  const hub = fakeCache(join(dir, 'hub'), 'meta-llama/Llama-3.2-1B', [['aaa111', 'gpt2'], ['bbb222', 'llama-3.2-1b']]);
  const env = { HF_HUB_CACHE: hub };

  it('estimates the newest snapshot, as --hf-config with that file would', async () => {
    const byName = await cli(['estimate', '--model', 'meta-llama/Llama-3.2-1B', '--batch', '2', '--seq', '512', '--json'], env);
    expect(byName.status, byName.stderr).toBe(0);
    const byFile = await cli(['estimate', '--hf-config', fixture('llama-3.2-1b'), '--batch', '2', '--seq', '512', '--json'], {});
    expect(byFile.status, byFile.stderr).toBe(0);
    expect(JSON.parse(byName.stdout)).toEqual(JSON.parse(byFile.stdout));
    expect((JSON.parse(byName.stdout) as { model: { family: string } }).model.family).toBe('llama');
  });

  it('takes the snapshot refs/main names over a newer one, as from_pretrained does', () => {
    const root = fakeCache(join(dir, 'pinned'), 'org/m', [['old1', 'llama-3.2-1b'], ['new2', 'gpt2']], 'old1\n');
    expect(resolveModelConfig('org/m', { env: { HF_HUB_CACHE: root } })).toBe(join(root, 'models--org--m', 'snapshots', 'old1', 'config.json'));
  });

  it('finds the cache under HF_HOME/hub', async () => {
    fakeCache(join(dir, 'home', 'hub'), 'openai-community/gpt2', [['c0ffee', 'gpt2']]);
    const r = await cli(['estimate', '--model', 'openai-community/gpt2', '--json'], { HF_HOME: join(dir, 'home') });
    expect(r.status, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as { params: number }).params).toBe(124_439_808);
  });

  it('refuses a model that is not in the cache in one line naming where it looked', async () => {
    const r = await cli(['estimate', '--model', 'Qwen/Qwen2.5-0.5B'], env);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trimEnd().split('\n')).toEqual([
      `vramlab estimate: --model: 'Qwen/Qwen2.5-0.5B' is not in the Hugging Face cache (looked for ${join(hub, 'models--Qwen--Qwen2.5-0.5B', 'snapshots')}): download it first (huggingface-cli download Qwen/Qwen2.5-0.5B config.json), set HF_HUB_CACHE or HF_HOME to the cache that has it, or pass the model folder or --hf-config`,
    ]);
  });

  it('refuses --model org/name together with --hf-config', async () => {
    const r = await cli(['estimate', '--model', 'meta-llama/Llama-3.2-1B', '--hf-config', fixture('gpt2')], env);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^vramlab estimate: --model meta-llama\/Llama-3\.2-1B names a config\.json already; drop --hf-config\n$/);
  });
});

describe('--model path/to/folder', () => {
  it('reads the folder\'s config.json', async () => {
    const folder = join(dir, 'models', 'qwen');
    mkdirSync(folder, { recursive: true });
    cpSync(fixture('qwen2.5-0.5b'), join(folder, 'config.json'));
    const byFolder = await cli(['estimate', '--model', folder, '--json'], {});
    const byFile = await cli(['estimate', '--hf-config', join(folder, 'config.json'), '--json'], {});
    expect(byFolder.status, byFolder.stderr).toBe(0);
    expect(byFolder.stdout).toBe(byFile.stdout);
  });

  it("reads a Diffusers pipeline folder's model_index.json and its components", async () => {
    const folder = join(ROOT, 'test', 'fixtures', 'stable-diffusion-v1-5');
    const byFolder = await cli(['estimate', '--model', folder, '--mode', 'inference', '--json'], {});
    const byFile = await cli(['estimate', '--hf-config', join(folder, 'model_index.json'), '--mode', 'inference', '--json'], {});
    expect(byFolder.status, byFolder.stderr).toBe(0);
    expect(byFolder.stdout).toBe(byFile.stdout);
  });

  it('refuses a folder without config.json', async () => {
    const empty = join(dir, 'models', 'empty');
    mkdirSync(empty, { recursive: true });
    const r = await cli(['estimate', '--model', empty], {});
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(`vramlab estimate: --model: folder '${empty}' has no config.json (or model_index.json); pass a model folder (the one with config.json) or a Hugging Face id such as org/name\n`);
  });
});
