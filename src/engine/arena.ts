/**
 * Tensors as sub-ranges of one buffer. The optimizer updates every trainable parameter in one
 * dispatch (kernels/optimizer.ts), and one dispatch sees one buffer per binding: WGSL has no
 * arrays of storage bindings in core WebGPU, and a fixed number of tensors per dispatch, each
 * with its own params/grads/m/v bindings, runs into maxStorageBuffersPerShaderStage (8 by
 * default: one Adam tensor and the hyper-parameters). So parameters, their gradients and
 * states each live in a flat arena, laid out alike, and every kernel binds a tensor as its
 * sub-range (GPUBufferBinding offset and size).
 *
 * An ArenaSlice stands where a GPUBuffer would (kernels take it unchanged, recordPass binds
 * its range); it cannot be mapped or destroyed on its own. The ledger records each slice as a
 * tensor of its own, created and released at its own op, so logical liveness is as before;
 * the arena's buffer is physical memory, like a pooled buffer.
 */

/** A tensor at `offset` in an arena buffer, `size` bytes bound (its bytes rounded up to 4). */
export class ArenaSlice implements GPUBuffer {
  readonly __brand = 'GPUBuffer' as const;
  label: string;
  readonly size: number;
  readonly offset: number;
  /** Bytes from this slice's offset to the next slice's (alignment included). */
  readonly extent: number;
  private arena_: GPUBuffer | null = null;

  constructor(label: string, offset: number, size: number, extent: number) {
    this.label = label;
    this.offset = offset;
    this.size = size;
    this.extent = extent;
  }

  /** The arena buffer; set once it is created (tensors are laid out before their arena exists). */
  get arena(): GPUBuffer {
    if (!this.arena_) throw new Error(`ArenaSlice '${this.label}': its arena is not allocated yet (the trainer allocates it with its workspace)`);
    return this.arena_;
  }

  set arena(buffer: GPUBuffer) {
    this.arena_ = buffer;
  }

  get usage(): GPUFlagsConstant {
    return this.arena.usage;
  }

  get mapState(): GPUBufferMapState {
    return 'unmapped';
  }

  mapAsync(): Promise<undefined> {
    return Promise.reject(new TypeError(`ArenaSlice '${this.label}' cannot be mapped: copy its range (bufferRange) into a staging buffer`));
  }

  getMappedRange(): ArrayBuffer {
    throw new TypeError(`ArenaSlice '${this.label}' cannot be mapped: copy its range (bufferRange) into a staging buffer`);
  }

  unmap(): undefined {
    return undefined;
  }

  /** Nothing to destroy: the arena's buffer goes with the ledger's dispose(). */
  destroy(): undefined {
    return undefined;
  }
}

/** Where a tensor's bytes are: its own buffer from 0, or its arena at its offset. */
export function bufferRange(b: GPUBuffer): { buffer: GPUBuffer; offset: number; size: number } {
  return b instanceof ArenaSlice ? { buffer: b.arena, offset: b.offset, size: b.size } : { buffer: b, offset: 0, size: b.size };
}

/** The binding of a buffer or slice in a bind group entry. */
export function bindingResource(b: GPUBuffer): GPUBufferBinding {
  return b instanceof ArenaSlice ? { buffer: b.arena, offset: b.offset, size: b.size } : { buffer: b };
}
