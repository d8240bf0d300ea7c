// NF4 matmul: out[M×N] = A[M×K] · W (+ bias[N]), where W is a frozen weight stored 4-bit
// NF4 (QLoRA, Dettmers et al. 2023; bitsandbytes' blockwise quantisation) and dequantised
// here, value by value, as the product reads it: the whole f32 (or 16-bit) matrix never
// exists. Driven by src/engine/kernels/nf4.ts; storage helpers from storage.wgsl.
//
// W holds K×N values, or N×K when B_T (the backward product dY·Wᵀ reads the forward's
// weight transposed). Its flat element i (row-major as stored) is code nibble i & 7 of word
// i >> 3 of `codes` (bits 4·(i & 7) … 4·(i & 7) + 3), and its value is NF4[code] ·
// absmax[i / 64]: one f32 absmax per 64 consecutive values, as bitsandbytes' blocksize 64.
//
// One invocation computes one output WORD (elements 2w and 2w + 1, as matmul.wgsl's
// reference kernel), so a packed 16-bit output is written whole.

override M: u32;
override N: u32;
override K: u32;
override B_T: bool = false;
override A_KIND: u32 = 0u;
override OUT_KIND: u32 = 0u;
override HAS_BIAS: bool = false;
override WG: u32 = 64u;

@group(0) @binding(0) var<storage, read> a: array<u32>;
@group(0) @binding(1) var<storage, read> codes: array<u32>;
@group(0) @binding(2) var<storage, read> absmax: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<u32>;
// f32, N values. Without HAS_BIAS the caller binds `absmax` here, never read.
@group(0) @binding(4) var<storage, read> bias: array<f32>;

const NF4_BLOCK: u32 = 64u;

// The 16 NF4 values (bitsandbytes functional.py get_4bit_type('nf4')): quantiles of N(0, 1)
// scaled to [-1, 1], with an exact 0.
var<private> NF4: array<f32, 16> = array<f32, 16>(
  -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
  -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
  0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
  0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0,
);

fn loadA(row: u32, k: u32) -> f32 {
  let i = row * K + k;
  return decodeElement(a[storageWord(i, A_KIND)], i, A_KIND);
}

fn loadW(k: u32, col: u32) -> f32 {
  let i = select(k * N + col, col * K + k, B_T);
  let code = (codes[i >> 3u] >> (4u * (i & 7u))) & 0xfu;
  return NF4[code] * absmax[i / NF4_BLOCK];
}

fn products(w: u32) -> vec2f {
  let e0 = 2u * w;
  let r0 = e0 / N;
  let c0 = e0 % N;
  // Clamped to a valid row past the end, so every load stays in bounds.
  let r1 = min((e0 + 1u) / N, M - 1u);
  let c1 = (e0 + 1u) % N;
  var s = vec2f(0.0);
  for (var k = 0u; k < K; k++) {
    s.x += loadA(r0, k) * loadW(k, c0);
    s.y += loadA(r1, k) * loadW(k, c1);
  }
  if (e0 + 1u >= M * N) {
    s.y = 0.0;
  }
  if (HAS_BIAS) {
    s += vec2f(bias[e0 % N], bias[(e0 + 1u) % N]);
  }
  return s;
}

@compute @workgroup_size(WG)
fn matmul(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_index) lid: u32) {
  let w = (wid.y * groups.x + wid.x) * WG + lid;
  if (2u * w >= M * N) {
    return;
  }
  let v = products(w);
  if (OUT_KIND == STORAGE_F32) {
    out[2u * w] = bitcast<u32>(v.x);
    if (2u * w + 1u < M * N) {
      out[2u * w + 1u] = bitcast<u32>(v.y);
    }
  } else {
    out[w] = encodePair(v.x, select(0.0, v.y, 2u * w + 1u < M * N), OUT_KIND);
  }
}
