// Dynamic loss scaling on the GPU, PyTorch GradScaler semantics (growth factor 2, backoff
// 0.5), with no readback inside a step. Driven by src/engine/kernels/optimizer.ts.
//
// lossState, 4 words (16 B):
//   [0] scale (f32)  [1] growth counter (u32)  [2] found-inf flag (u32)  [3] skipped steps (u32)
// Order in a step: backward → check_finite over every grad tensor → optimizer (skips when
// the flag is set) → update_scale (clears the flag).

override N: u32 = 1u;
override WG: u32 = 256u;
override GROWTH_INTERVAL: u32 = 2000u;

@group(0) @binding(0) var<storage, read> grads: array<f32>;
// check_finite: only the flag (word 2) is touched, with atomicOr.
@group(0) @binding(1) var<storage, read_write> flagState: array<atomic<u32>, 4>;
// update_scale: a single invocation reads and writes all four words.
@group(0) @binding(2) var<storage, read_write> state: array<u32, 4>;

@compute @workgroup_size(WG)
fn check_finite(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * groups.x + wid.x) * WG + lid;
  if (i >= N) {
    return;
  }
  if (!isFiniteBits(bitcast<u32>(grads[i]))) {
    atomicOr(&flagState[2], 1u);
  }
}

// Mirrors torch._amp_update_scale_: a non-finite step halves the scale and resets the
// counter; GROWTH_INTERVAL finite steps in a row double it (unless that overflows).
@compute @workgroup_size(1)
fn update_scale() {
  var scale = bitcast<f32>(state[0]);
  if (state[2] != 0u) {
    scale *= 0.5;
    state[1] = 0u;
    state[3] += 1u;
  } else {
    let successful = state[1] + 1u;
    if (successful >= GROWTH_INTERVAL) {
      let grown = scale * 2.0;
      if (isFiniteBits(bitcast<u32>(grown))) {
        scale = grown;
      }
      state[1] = 0u;
    } else {
      state[1] = successful;
    }
  }
  state[0] = bitcast<u32>(scale);
  state[2] = 0u;
}
