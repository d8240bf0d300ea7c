// Rotary position embeddings (Su et al. 2021, RoFormer) as Hugging Face's Llama applies them
// ("rotate_half"): in each head of HEAD_DIM lanes, lane i < HEAD_DIM/2 pairs with lane
// i + HEAD_DIM/2 and both turn by θ = pos·THETA^(−2i/HEAD_DIM), pos = row mod SEQ:
//   y[i]        = x[i]·cos θ − x[i + half]·sin θ
//   y[i + half] = x[i + half]·cos θ + x[i]·sin θ
// Rows are ROWS × WIDTH; columns [0, ROT_COLS) (q and k heads) are rotated, the rest (v)
// copied. SIGN −1 turns the other way: the backward, since a rotation's transpose is its
// inverse. Driven by src/engine/kernels/rope.ts; storage helpers from storage.wgsl.
//
// rope: one invocation per output WORD (elements 2w, 2w + 1), so a packed y is written whole.

override ROWS: u32;
override SEQ: u32;
override WIDTH: u32;
// A multiple of HEAD_DIM, at most WIDTH.
override ROT_COLS: u32;
// Even.
override HEAD_DIM: u32;
override THETA: f32 = 10000.0;
// 1 forward, −1 backward.
override SIGN: f32 = 1.0;
override X_KIND: u32 = 0u;
override Y_KIND: u32 = 0u;
override WG: u32 = 256u;

// ROWS×WIDTH of storage X_KIND and Y_KIND.
@group(0) @binding(0) var<storage, read> x: array<u32>;
@group(0) @binding(1) var<storage, read_write> y: array<u32>;

const TWO_PI: f32 = 6.283185307179586;

fn loadX(i: u32) -> f32 {
  return decodeElement(x[storageWord(i, X_KIND)], i, X_KIND);
}

fn rotated(e: u32) -> f32 {
  let r = e / WIDTH;
  let c = e % WIDTH;
  if (c >= ROT_COLS) {
    return loadX(e);
  }
  let half = HEAD_DIM / 2u;
  let lane = c % HEAD_DIM;
  let i = lane % half;
  // THETA^(−2i/HEAD_DIM) = 2^(−(2i/HEAD_DIM)·log2 THETA).
  let raw = f32(r % SEQ) * exp2(-f32(2u * i) / f32(HEAD_DIM) * log2(THETA));
  // Into [−π, π], where WGSL bounds cos and sin (absolute error 2^-11); beyond it they are
  // implementation-defined. https://www.w3.org/TR/WGSL/#floating-point-accuracy
  let angle = raw - TWO_PI * floor(raw / TWO_PI + 0.5);
  var partner: f32;
  if (lane < half) {
    partner = -loadX(e + half);
  } else {
    partner = loadX(e - half);
  }
  return loadX(e) * cos(angle) + SIGN * partner * sin(angle);
}

@compute @workgroup_size(WG)
fn rope(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_index) lid: u32) {
  let w = (wid.y * groups.x + wid.x) * WG + lid;
  let n = ROWS * WIDTH;
  let e0 = 2u * w;
  if (e0 >= n) {
    return;
  }
  let hasHi = e0 + 1u < n;
  let lo = rotated(e0);
  let hi = select(0.0, rotated(min(e0 + 1u, n - 1u)), hasHi);
  if (Y_KIND == STORAGE_F32) {
    y[e0] = bitcast<u32>(lo);
    if (hasHi) {
      y[e0 + 1u] = bitcast<u32>(hi);
    }
  } else {
    y[w] = encodePair(lo, hi, Y_KIND);
  }
}
