/**
 * `--model org/name` and `--model path/to/folder`: the config.json of a Hugging Face model that
 * is already on this machine, found without the network. The hub cache is where
 * `huggingface_hub` (transformers' `from_pretrained`, `huggingface-cli download`) puts models:
 * `$HF_HUB_CACHE`, else `$HF_HOME/hub`, else `$XDG_CACHE_HOME/huggingface/hub`, else
 * `~/.cache/huggingface/hub`; one model is `models--org--name/snapshots/<commit>/config.json`,
 * with `refs/main` naming the commit `from_pretrained` would load. A Diffusers pipeline has a
 * model_index.json there instead, its components' config.json in folders beside it.
 * https://huggingface.co/docs/huggingface_hub/guides/manage-cache
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

/** `org/name` as the hub spells repository ids (letters, digits, `-`, `_`, `.`). */
const HUB_ID = /^[A-Za-z0-9][\w.-]*\/[A-Za-z0-9][\w.-]*$/;

export interface ModelRefOptions {
  env?: Record<string, string | undefined>;
  home?: string;
}

/** The hub cache folder this environment names (it need not exist). */
export function hubCacheDir(opts: ModelRefOptions = {}): string {
  const env = opts.env ?? process.env;
  const home = opts.home ?? homedir();
  if (env.HF_HUB_CACHE) return env.HF_HUB_CACHE;
  if (env.HF_HOME) return join(env.HF_HOME, 'hub');
  return join(env.XDG_CACHE_HOME || join(home, '.cache'), 'huggingface', 'hub');
}

/** True for a `--model` value that names a folder or a hub id rather than a preset. */
export function isModelRef(value: string): boolean {
  return value.includes('/') || value.includes('\\');
}

const isDir = (p: string) => existsSync(p) && statSync(p).isDirectory();

/** What describes a model in its folder: a model's config.json, else a pipeline's model_index.json. */
const MODEL_FILES = ['config.json', 'model_index.json'] as const;
const modelFile = (folder: string) => MODEL_FILES.map((f) => join(folder, f)).find((p) => existsSync(p));

/**
 * The config.json path for `ref`: a folder (a local checkout or a `save_pretrained` output)
 * when one exists at that path, else the newest cached snapshot of the hub id. Throws an Error
 * whose message says where it looked and what to do.
 */
export function resolveModelConfig(ref: string, opts: ModelRefOptions = {}): string {
  const folder = resolve(ref);
  if (isDir(folder)) {
    const config = modelFile(folder);
    if (config === undefined) throw new Error(`folder '${ref}' has no config.json (or model_index.json); pass a model folder (the one with config.json) or a Hugging Face id such as org/name`);
    return config;
  }
  if (!HUB_ID.test(ref)) throw new Error(`'${ref}' is neither a folder nor a Hugging Face model id (org/name)`);
  const cache = hubCacheDir(opts);
  const repo = join(cache, `models--${ref.replace('/', '--')}`);
  const snapshots = join(repo, 'snapshots');
  const download = `download it first (huggingface-cli download ${ref} config.json), set HF_HUB_CACHE or HF_HOME to the cache that has it, or pass the model folder or --hf-config`;
  if (!isDir(snapshots)) throw new Error(`'${ref}' is not in the Hugging Face cache (looked for ${snapshots}): ${download}`);
  const snapshot = pickSnapshot(repo, snapshots);
  if (snapshot === null) throw new Error(`'${ref}' is in the Hugging Face cache (${snapshots}) but no snapshot has a config.json: ${download}`);
  return modelFile(join(snapshots, snapshot))!;
}

/**
 * The snapshot `refs/main` names when it has a config.json (what `from_pretrained` loads), else
 * the most recently written one that has; null when none has.
 */
function pickSnapshot(repo: string, snapshots: string): string | null {
  const withConfig = readdirSync(snapshots).filter((s) => modelFile(join(snapshots, s)) !== undefined);
  if (withConfig.length === 0) return null;
  const refMain = join(repo, 'refs', 'main');
  if (existsSync(refMain)) {
    const commit = readFileSync(refMain, 'utf8').trim();
    if (withConfig.includes(commit)) return commit;
  }
  const mtime = (s: string) => statSync(join(snapshots, s)).mtimeMs;
  return withConfig.reduce((a, b) => (mtime(b) > mtime(a) ? b : a));
}
