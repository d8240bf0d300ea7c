// SwiGLU (Shazeer 2020; Llama's MLP): act = silu(gate) ⊙ up with silu(g) = g·σ(g), and its
// backward. gu is ROWS × 2·INNER, each row [gate (INNER) | up (INNER)], the output of one
// matmul by [W_gate | W_up]; act is ROWS × INNER. Driven by src/engine/kernels/swiglu.ts;
// storage helpers from storage.wgsl.
//   forward   one invocation per act WORD (elements 2w, 2w + 1), packed words written whole.
//   backward  one invocation per dGu element (f32): dGate = dy·up·σ·(1 + g·(1 − σ)),
//             dUp = dy·silu(g), dy = dAct of the same row and lane.

override ROWS: u32;
override INNER: u32;
override GU_KIND: u32 = 0u;
override ACT_KIND: u32 = 0u;
override WG: u32 = 256u;

@group(0) @binding(0) var<storage, read> gu: array<u32>;
// forward: act, storage ACT_KIND.
@group(0) @binding(1) var<storage, read_write> act: array<u32>;
// backward: f32 ROWS×INNER and ROWS×2·INNER.
@group(0) @binding(2) var<storage, read> dAct: array<f32>;
@group(0) @binding(3) var<storage, read_write> dGu: array<f32>;

fn loadGu(i: u32) -> f32 {
  return decodeElement(gu[storageWord(i, GU_KIND)], i, GU_KIND);
}

// σ(g); g clamped so exp stays finite (σ is 0 or 1 to f32 precision well inside ±80).
fn sigmoid(g: f32) -> f32 {
  return 1.0 / (1.0 + exp(-clamp(g, -80.0, 80.0)));
}

fn swiglu(e: u32) -> f32 {
  let r = e / INNER;
  let j = e % INNER;
  let g = loadGu(r * 2u * INNER + j);
  return g * sigmoid(g) * loadGu(r * 2u * INNER + INNER + j);
}

@compute @workgroup_size(WG)
fn forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_index) lid: u32) {
  let w = (wid.y * groups.x + wid.x) * WG + lid;
  let n = ROWS * INNER;
  let e0 = 2u * w;
  if (e0 >= n) {
    return;
  }
  let hasHi = e0 + 1u < n;
  let lo = swiglu(e0);
  let hi = select(0.0, swiglu(min(e0 + 1u, n - 1u)), hasHi);
  if (ACT_KIND == STORAGE_F32) {
    act[e0] = bitcast<u32>(lo);
    if (hasHi) {
      act[e0 + 1u] = bitcast<u32>(hi);
    }
  } else {
    act[w] = encodePair(lo, hi, ACT_KIND);
  }
}

@compute @workgroup_size(WG)
fn backward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_index) lid: u32) {
  let e = (wid.y * groups.x + wid.x) * WG + lid;
  if (e >= ROWS * 2u * INNER) {
    return;
  }
  let r = e / (2u * INNER);
  let c = e % (2u * INNER);
  let j = c % INNER;
  let g = loadGu(r * 2u * INNER + j);
  let u = loadGu(r * 2u * INNER + INNER + j);
  let dy = dAct[r * INNER + j];
  let s = sigmoid(g);
  if (c < INNER) {
    dGu[e] = dy * u * s * (1.0 + g * (1.0 - s));
  } else {
    dGu[e] = dy * g * s;
  }
}
