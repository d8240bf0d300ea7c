// Embedding family: token + position embeddings of a GPT-style decoder, and their backward.
// ROWS = batch·SEQ tokens; token r has id ids[r] and position r mod SEQ. Tables are f32,
// row-major, DIM values per row. Driven by src/engine/kernels/embedding.ts; storage helpers
// from storage.wgsl.
//
// forward         out[r, d] = tokenTable[ids[r], d] + posTable[r mod SEQ, d], one invocation
//                 per output WORD (elements 2w, 2w + 1), so a packed out is written whole
//                 even where a word straddles two rows (odd DIM).
// token_grad      dToken[v, d] (+)= Σ_{r : ids[r] = v} dOut[r, d]: one invocation per table
//                 element loops over the ROWS tokens in order; no float atomics, deterministic.
// position_grad   dPos[p, d] = Σ_b dOut[b·SEQ + p, d] for p < SEQ, 0 for SEQ ≤ p < MAX_POS.
//
// An id ≥ VOCAB reads as a zero token row in the forward and gets no gradient (PyTorch would
// raise; the caller validates ids on the CPU).

override ROWS: u32;
override SEQ: u32;
override DIM: u32;
override VOCAB: u32;
// Rows of posTable / dPos (forward: SEQ is enough, MAX_POS is unused).
override MAX_POS: u32 = 1u;
// Storage of out.
override OUT_KIND: u32 = 0u;
// token_grad: 1 adds into dToken (it holds the tied LM head's gradient), 0 overwrites it.
override ACCUMULATE: bool = false;
// forward: false for a model with rotary positions (Llama): no position table is added, and
// the TS side binds the token table in posTable's slot (never read).
override USE_POS: bool = true;
override WG: u32 = 256u;

// u32, ROWS.
@group(0) @binding(0) var<storage, read> ids: array<u32>;
// f32, VOCAB×DIM and MAX_POS×DIM (at least SEQ×DIM).
@group(0) @binding(1) var<storage, read> tokenTable: array<f32>;
@group(0) @binding(2) var<storage, read> posTable: array<f32>;
// forward: ROWS×DIM of storage OUT_KIND.
@group(0) @binding(3) var<storage, read_write> out: array<u32>;
// backward: f32, ROWS×DIM.
@group(0) @binding(4) var<storage, read> dOut: array<f32>;
// backward: f32, VOCAB×DIM and MAX_POS×DIM.
@group(0) @binding(5) var<storage, read_write> dToken: array<f32>;
@group(0) @binding(6) var<storage, read_write> dPos: array<f32>;

fn flatIndex(wid: vec3u, groups: vec3u, lid: u32) -> u32 {
  return (wid.y * groups.x + wid.x) * WG + lid;
}

// Element i = r·DIM + d of out, in f32.
fn embedded(i: u32) -> f32 {
  let r = i / DIM;
  let d = i % DIM;
  let id = ids[r];
  // min() keeps the load in bounds; select() drops it for an out-of-range id.
  let tok = select(0.0, tokenTable[min(id, VOCAB - 1u) * DIM + d], id < VOCAB);
  if (!USE_POS) {
    return tok;
  }
  return tok + posTable[(r % SEQ) * DIM + d];
}

@compute @workgroup_size(WG)
fn forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_index) lid: u32) {
  let w = flatIndex(wid, groups, lid);
  let n = ROWS * DIM;
  let e0 = 2u * w;
  if (e0 >= n) {
    return;
  }
  let hasHi = e0 + 1u < n;
  let lo = embedded(e0);
  let hi = select(0.0, embedded(min(e0 + 1u, n - 1u)), hasHi);
  if (OUT_KIND == STORAGE_F32) {
    out[e0] = bitcast<u32>(lo);
    if (hasHi) {
      out[e0 + 1u] = bitcast<u32>(hi);
    }
  } else {
    out[w] = encodePair(lo, hi, OUT_KIND);
  }
}

@compute @workgroup_size(WG)
fn token_grad(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flatIndex(wid, groups, lid);
  if (i >= VOCAB * DIM) {
    return;
  }
  let v = i / DIM;
  let d = i % DIM;
  // Neighbouring invocations share v, so the ids loads are the same address (a broadcast).
  var s = 0.0;
  for (var r = 0u; r < ROWS; r++) {
    if (ids[r] == v) {
      s += dOut[r * DIM + d];
    }
  }
  if (ACCUMULATE) {
    dToken[i] += s;
  } else {
    dToken[i] = s;
  }
}

@compute @workgroup_size(WG)
fn position_grad(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flatIndex(wid, groups, lid);
  if (i >= MAX_POS * DIM) {
    return;
  }
  let p = i / DIM;
  let d = i % DIM;
  var s = 0.0;
  if (p < SEQ) {
    for (var r = p; r < ROWS; r += SEQ) {
      s += dOut[r * DIM + d];
    }
  }
  dPos[i] = s;
}
