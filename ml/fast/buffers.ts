// The "acft" backend class: a MathBackendCPU that recycles the Float32Arrays its native kernels
// allocate. A training step allocates ~0.5 GB of short-lived outputs; as fresh ArrayBuffers they
// trigger V8 "external memory pressure" GCs (a mark-compact every ~0.2 s, 15-40 ms each, measured
// with --trace-gc). Recycling by exact length makes the step allocation-free after warm-up.
//
// Safety: a buffer is reused only if nothing outside the backend can still see it. It "escapes"
// (is never recycled) when its data is read (readSync/read hand out the live array, e.g.
// dataSync()), or when a kernel returns a view of it (stock cpu kernels slice with subarray).
import { MathBackendCPU } from "@tensorflow/tfjs-backend-cpu";
import type * as tf from "@tensorflow/tfjs";

/** Largest total size of idle pooled buffers (bytes); beyond it, freed buffers go to the GC. */
const POOL_LIMIT_BYTES = 1 << 30;

export class AcftBackend extends MathBackendCPU {
  /** Buffers allocated by alloc() that are still eligible for reuse. */
  private readonly owned = new WeakSet<Float32Array>();
  private readonly pool = new Map<number, Float32Array[]>();
  private pooledBytes = 0;

  constructor() {
    super();
    // MathBackendCPU prints "install our node backend … to speed things up" on its first write. On
    // this backend the hot kernels are already native, and the banner repeated in every forked
    // stage's log, so it is switched off here (the stock cpu backend keeps it).
    (this as unknown as { firstUse: boolean }).firstUse = false;
  }

  /** A Float32Array of length n for a kernel output; contents are arbitrary (kernels overwrite all). */
  alloc(n: number): Float32Array {
    const free = this.pool.get(n);
    let buf: Float32Array;
    if (free && free.length > 0) {
      buf = free.pop()!;
      this.pooledBytes -= buf.byteLength;
    } else {
      buf = new Float32Array(n);
    }
    this.owned.add(buf);
    return buf;
  }

  /** Marks the array behind dataId as visible outside the backend: it will not be reused. */
  private escape(values: unknown): void {
    if (values instanceof Float32Array) this.owned.delete(values);
  }

  /** After any kernel: an output that shares an owned input's ArrayBuffer pins that input. */
  checkViews(inputs: readonly tf.TensorInfo[], outputs: readonly tf.TensorInfo[]): void {
    for (const o of outputs) {
      if (!this.data.has(o.dataId)) continue;
      const ov = this.data.get(o.dataId).values;
      if (!(ov instanceof Float32Array)) continue;
      for (const i of inputs) {
        if (i === undefined || i.dataId === o.dataId || !this.data.has(i.dataId)) continue;
        const iv = this.data.get(i.dataId).values;
        if (iv instanceof Float32Array && iv.buffer === ov.buffer) {
          this.escape(iv);
          this.escape(ov);
        }
      }
    }
  }

  override readSync(dataId: object): ReturnType<MathBackendCPU["readSync"]> {
    const v = super.readSync(dataId);
    this.escape(v);
    return v;
  }

  override disposeData(dataId: object, force = false): boolean {
    const values = this.data.has(dataId) ? this.data.get(dataId).values : undefined;
    const freed = super.disposeData(dataId, force);
    if (freed && values instanceof Float32Array && this.owned.has(values)) {
      this.owned.delete(values);
      if (this.pooledBytes + values.byteLength <= POOL_LIMIT_BYTES) {
        const list = this.pool.get(values.length) ?? [];
        list.push(values);
        this.pool.set(values.length, list);
        this.pooledBytes += values.byteLength;
      }
    }
    return freed;
  }

  override dispose(): void {
    this.pool.clear();
    this.pooledBytes = 0;
    super.dispose();
  }
}
