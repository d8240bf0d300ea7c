/**
 * The CLI at its edges, without a GPU: files it is pointed at (FIFOs, devices, directories,
 * oversized files), output it cannot write, a cache folder it cannot write, and control
 * characters on their way to the terminal.
 */
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main, report, type Io } from '../../src/cli/main.ts';
import { readBoundedText } from '../../src/cli/read-bounded.ts';
import { oneLine, printable } from '../../src/cli/text.ts';
import { cachedTiles, saveTiles, tilesCacheWriteProblem } from '../../src/cli/tiles-cache.ts';
import { BIN, ROOT } from '../helpers/cli.ts';

const MiB = 2 ** 20;
const dir = mkdtempSync(join(tmpdir(), 'vramlab-inputs-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function capture(env: Record<string, string | undefined> = {}): Io & { stdout: string; stderr: string } {
  const io = {
    stdout: '',
    stderr: '',
    env,
    out: (t: string) => void (io.stdout += t),
    err: (t: string) => void (io.stderr += t),
  };
  return io;
}

/** A FIFO no one writes to: opening it for reading blocks, unless opened without blocking. */
function fifo(name: string): string {
  const path = join(dir, name);
  execFileSync('mkfifo', [path]);
  return path;
}

/** A sparse file of `bytes`: large on paper, nothing on disk. */
function sized(name: string, bytes: number, head = '{"model_type": "gpt2"'): string {
  const path = join(dir, name);
  writeFileSync(path, head);
  truncateSync(path, bytes);
  return path;
}

/** One line on stderr, status 2, nothing on stdout. */
function expectRefusal(io: { stdout: string; stderr: string }, status: number, ...parts: RegExp[]): void {
  expect(status, io.stderr).toBe(2);
  expect(io.stdout).toBe('');
  const lines = io.stderr.trimEnd().split('\n');
  expect(lines, io.stderr).toHaveLength(1);
  for (const p of parts) expect(lines[0]).toMatch(p);
}

describe('readBoundedText', () => {
  it('reads a small regular file', () => {
    const path = join(dir, 'small.json');
    writeFileSync(path, '{"a": 1}');
    expect(readBoundedText(path, MiB)).toBe('{"a": 1}');
  });

  it.each([
    ['a FIFO', () => fifo('pipe.json'), 'NOT_FILE', /a pipe \(FIFO\), not a file/],
    ['/dev/zero', () => '/dev/zero', 'NOT_FILE', /a character device, not a file/],
    ['a directory', () => dir, 'NOT_FILE', /a directory, not a file/],
    ['a 2 MiB file', () => sized('two.json', 2 * MiB), 'TOO_LARGE', /2\.0 MiB, over the 1\.0 MiB limit/],
    ['a 3 GB file', () => sized('weights.safetensors', 3e9), 'TOO_LARGE', /2861\.0 MiB, over the 1\.0 MiB limit/],
    ['a missing file', () => join(dir, 'nope.json'), 'ENOENT', /^no such file$/],
  ])('refuses %s at once, unread', (_, make, code, message) => {
    const path = make();
    const t0 = performance.now();
    let err: (Error & { code?: string }) | undefined;
    try {
      readBoundedText(path, MiB);
    } catch (e) {
      err = e as Error & { code?: string };
    }
    expect(err?.name).toBe('InputFileError');
    expect(err?.code).toBe(code);
    expect(err?.message).toMatch(message);
    // Refused from its metadata, not by reading: well under the time a read of it would take.
    expect(performance.now() - t0).toBeLessThan(1000);
  });

  it('takes a file of exactly the limit and refuses one byte more', () => {
    expect(readBoundedText(sized('exact.json', MiB, ''), MiB)).toHaveLength(MiB);
    expect(() => readBoundedText(sized('over.json', MiB + 1, ''), MiB)).toThrow(/over the 1\.0 MiB limit/);
  });
});

describe('vramlab estimate --hf-config with a path that is not a config.json', () => {
  it.each([
    ['a FIFO', () => fifo('config-pipe.json'), /--hf-config: cannot read '.*config-pipe\.json': it is a pipe \(FIFO\), not a file$/],
    ['/dev/zero', () => '/dev/zero', /it is a character device, not a file$/],
    ['a 2 MiB JSON file', () => sized('big.json', 2 * MiB), /it is 2\.0 MiB, over the 1\.0 MiB limit; a config\.json is a few KB/],
    ['a 50 MB JSON file', () => sized('huge.json', 50e6), /it is 47\.7 MiB, over the 1\.0 MiB limit/],
  ])('refuses %s in one line, exit 2, without hanging or reading it', { timeout: 10_000 }, async (_, make, message) => {
    const io = capture();
    const status = await main(['estimate', '--hf-config', make()], io);
    expectRefusal(io, status, message);
  });
});

describe('the tiles cache', () => {
  it('ignores a FIFO or an oversized file in its place with a warning, without blocking', { timeout: 10_000 }, () => {
    for (const path of [fifo('matmul-tiles.json'), sized('tiles-big.json', 2 * MiB)]) {
      const r = cachedTiles(path, 'a');
      expect(r.tiles).toBeUndefined();
      expect(r.problem).toMatch(/cannot read it \(it is .*\); ignored/);
    }
  });

  it('says why it cannot be written, and saveTiles reports it instead of throwing', () => {
    const file = join(dir, 'a-file');
    writeFileSync(file, 'x');
    const path = join(file, 'vramlab', 'matmul-tiles.json');
    expect(tilesCacheWriteProblem(path)).toMatch(/^cannot write .*: a part of the path is a file, not a folder$/);
    const tiles = { tm: 4, tn: 4, wgx: 8, wgy: 8, tk: 8 };
    expect(saveTiles(path, 'a', { tiles, n: 128, gflops: 1, tuned: 't' })).toMatch(/^cannot write /);
    const ok = join(dir, 'cache', 'matmul-tiles.json');
    expect(tilesCacheWriteProblem(ok)).toBeNull();
    expect(saveTiles(ok, 'a', { tiles, n: 128, gflops: 1, tuned: 't' })).toBeNull();
  });

  it('bench --tune with an unwritable cache folder is refused before any device or tuning', { timeout: 10_000 }, async () => {
    const file = join(dir, 'not-a-folder');
    writeFileSync(file, 'x');
    const io = capture({ VRAMLAB_CACHE_DIR: join(file, 'cache') });
    const t0 = performance.now();
    const status = await main(['bench', '--tune', '--no-tfjs'], io);
    expectRefusal(io, status, /^vramlab bench: --tune cannot write .*: a part of the path is a file, not a folder: set VRAMLAB_CACHE_DIR to a folder you can write, or drop --tune$/);
    expect(performance.now() - t0).toBeLessThan(5000);
  });
});

describe('control characters on their way to the terminal', () => {
  it('escapes C0, DEL, C1 (U+009B: a one-character CSI) and the bidi controls', () => {
    expect(printable('a\u001b[31mb')).toBe('a\\x1b[31mb');
    expect(printable('\u009b31m')).toBe('\\u009b31m');
    expect(printable('\u0085\u007f')).toBe('\\u0085\\u007f');
    expect(printable('abc\u202Eevil\u2066x\u2067y\u2068z\u2069\u200f')).toBe('abc\\u202eevil\\u2066x\\u2067y\\u2068z\\u2069\\u200f');
    // Tabs and newlines are layout; ordinary non-ASCII text passes.
    expect(printable('a\tb\nc · ✓ × é 中')).toBe('a\tb\nc · ✓ × é 中');
    expect(oneLine('a\n  b\tc\u009b')).toBe('a b c\\u009b');
  });

  it('an error line echoing U+009B and U+202E shows them escaped', async () => {
    const io = capture();
    expect(await main(['estimate', '--model', 'x\u009b31m\u202Eevil'], io)).toBe(2);
    expect(io.stderr).not.toMatch(/[\u009b\u202e]/);
    expect(io.stderr).toContain('x\\u009b31m\\u202eevil');
  });

  it('a config.json whose model name carries them is printed escaped, and its JSON stays valid', { timeout: 30_000 }, async () => {
    const path = join(dir, 'evil.json');
    const arch = 'GPT2\u001b[1m\u009b31mEvil\u202eLMHeadModel';
    writeFileSync(path, JSON.stringify({ model_type: 'gpt2', architectures: [arch], vocab_size: 100, n_embd: 64, n_layer: 2, n_head: 4, n_positions: 64 }));
    const [text, json] = await Promise.all([spawnBin(['estimate', '--hf-config', path]), spawnBin(['estimate', '--hf-config', path, '--json'])]);
    expect(text.status, text.stderr).toBe(0);
    // eslint-disable-next-line no-control-regex
    for (const out of [text.stdout, json.stdout]) expect(out).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/);
    expect(text.stdout).toContain('GPT2\\x1b[1m\\u009b31mEvil\\u202eLMHeadModel');
    expect((JSON.parse(json.stdout) as { model: { name: string } }).model.name).toContain(arch);
  });
});

/** The real bin with stdout to `stdoutPath` (a file or device) or a pipe. */
function spawnBin(args: string[], stdoutPath?: string): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const fd = stdoutPath === undefined ? undefined : openSync(stdoutPath, 'w');
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, VRAMLAB_DEBUG: '' }, stdio: ['ignore', fd ?? 'pipe', 'pipe'] });
    if (fd !== undefined) closeSync(fd);
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d));
    child.stderr!.on('data', (d: Buffer) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 25_000);
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

describe('output that cannot be written', () => {
  it('estimate > /dev/full says so in one line and exits 1, no stack', { timeout: 30_000 }, async () => {
    const r = await spawnBin(['estimate'], '/dev/full');
    expect(r.status).toBe(1);
    expect(r.stderr.trimEnd().split('\n'), r.stderr).toEqual(['vramlab: cannot write the output (no space left on the device); nothing more is written']);
  });
});


describe('errors the engine names', () => {
  it.each([
    ['DeviceLost', 'The GPU device was lost (device was destroyed); nothing was kept', 1],
    ['MissingPackage', "the 'webgpu' package (Dawn, WebGPU for Node), which run and bench need, is not installed: run npm install webgpu in the folder vramlab is installed in", 2],
    ['Cancelled', 'the run was cancelled; nothing is left allocated', 130],
  ])('%s is said as its sentence in one line, not as an internal error', (name, message, status) => {
    const io = capture();
    expect(report(Object.assign(new Error(message), { name }), 'vramlab run', io)).toBe(status);
    expect(io.stderr).toBe(`vramlab run: ${message}\n`);
  });
});
