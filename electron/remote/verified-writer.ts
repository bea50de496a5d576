import type { ObjectStore } from '../engine/objects';
import { decode } from '../engine/compress';
import { chunkPool, type StoredRecord } from '../engine/chunk-pool';
import type { WireObject } from './records';

/** Bytes of received objects checked by one worker job (measured: 2, 4 and 8 MiB took as long; 2 held least memory). */
const BATCH_BYTES = 2 * 1024 * 1024;
/** Size of a batch buffer: a batch ends past BATCH_BYTES by its last object. */
const BUFFER_BYTES = 2 * BATCH_BYTES;
/** Jobs in flight at once (two per worker keeps both busy while the next batch is read). */
const WINDOW = 4;

/**
 * Stores objects that came from a bundle or a hub once the chunk workers have checked them
 * (decoded to exactly their size, hashed to their id), a batch at a time, while the caller
 * reads the next ones. Why: checked one by one on the main thread, decoding and hashing were
 * most of an import's CPU (the bench's v2 bundle, 545 MiB: 1.5 of 2.3 CPU-s) and the disk
 * waited meanwhile. A bad object fails the whole transfer with `bad(id)`; objects of batches
 * checked before it may already be in the open pack, unreferenced (gc removes them).
 */
export class VerifiedWriter {
  private buf: ArrayBuffer | undefined;
  private at = 0;
  private recs: StoredRecord[] = [];
  private readonly inflight = new Set<Promise<void>>();
  private failed: { error: unknown } | undefined;
  /**
   * Batch buffers back from the workers, for the next batches. Why: a new buffer per batch and
   * a copy of every object as it was read kept the process about 90 MB bigger through the
   * checkout that follows an import (peak RSS 290-307 MB against 195-204 MB before).
   */
  private readonly spare: ArrayBuffer[] = [];

  constructor(private readonly store: ObjectStore, private readonly bad: (id: string) => Error) {}

  /**
   * Copies `o` into the batch (nothing when the store has it), so its bytes may be a view that
   * the caller reuses once this returns; waits while WINDOW batches are being checked.
   */
  async add(o: WireObject): Promise<void> {
    if (this.failed) throw this.failed.error;
    if (this.store.has(o.id)) return;
    const n = o.bytes.length;
    if (this.buf && this.at + n > this.buf.byteLength) await this.send();
    if (!this.buf) this.buf = n > BUFFER_BYTES ? new ArrayBuffer(n) : (this.spare.pop() ?? new ArrayBuffer(BUFFER_BYTES));
    new Uint8Array(this.buf, this.at, n).set(o.bytes);
    this.recs.push({ id: o.id, type: o.type, codec: o.codec, offset: this.at, stored: n, size: o.size });
    this.at += n;
    if (this.at >= BATCH_BYTES) await this.send();
  }

  /** Checks and stores what is queued; resolves once every batch is stored, or throws the first failure. */
  async finish(): Promise<void> {
    await this.send();
    await this.settle();
    if (this.failed) throw this.failed.error;
  }

  /** Waits for the batches in flight, whatever they give. Why: none may store after the caller gave up. */
  async settle(): Promise<void> {
    while (this.inflight.size) await Promise.allSettled([...this.inflight]);
  }

  private async send(): Promise<void> {
    const buf = this.buf, recs = this.recs;
    this.buf = undefined;
    this.at = 0;
    this.recs = [];
    if (!buf) return;
    const job = chunkPool().verifyForeign(this.store.hash, buf, recs).then(async (r) => {
      if (r.bad >= 0) throw this.bad(recs[r.bad].id);
      const back = Buffer.from(r.buf);
      const checked = recs.map((x) => ({ id: x.id, type: x.type, codec: x.codec, size: x.size, bytes: back.subarray(x.offset, x.offset + x.stored) }));
      if (this.store.putTrustedMany) await this.store.putTrustedMany(checked);
      else for (const x of checked) await this.store.put(x.type, await decode(x.codec, x.bytes), x.id);
      // Written to the pack: the buffer may take a later batch.
      if (r.buf.byteLength === BUFFER_BYTES && this.spare.length < WINDOW) this.spare.push(r.buf);
    }).catch((error: unknown) => { this.failed ??= { error }; });
    const tracked: Promise<void> = job.finally(() => this.inflight.delete(tracked));
    this.inflight.add(tracked);
    while (this.inflight.size >= WINDOW) await Promise.race(this.inflight);
    if (this.failed) throw this.failed.error;
  }
}
