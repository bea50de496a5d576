import type { ObjectStore, HashName } from '../engine/objects';
import { decode } from '../engine/compress';
import { chunkPool, type StoredRecord } from '../engine/chunk-pool';
import type { WireObject } from './records';

/** Bytes of received objects checked by one worker job (measured: 2, 4 and 8 MiB took as long; 2 held least memory). */
const BATCH_BYTES = 2 * 1024 * 1024;
/** Size of a batch buffer: a batch ends past BATCH_BYTES by its last object. */
const BUFFER_BYTES = 2 * BATCH_BYTES;
/** Jobs in flight at once (two per worker keeps both busy while the next batch is read). */
const WINDOW = 4;
/** Batch buffers kept for reuse, at most. */
const MAX_SPARE = 8;

/**
 * Checks objects that came from a bundle, a hub or a client (each decodes to exactly its size
 * and hashes to its id) in the chunk workers, a batch at a time, while the caller reads the next
 * ones. Each checked batch goes to `onChecked`, whose objects' bytes lie in the batch buffer;
 * it returns true when that buffer may take a later batch (its bytes were used up). A bad
 * object fails the whole check with what `bad(it)` gives.
 */
export class ForeignChecker {
  private buf: ArrayBuffer | undefined;
  private at = 0;
  private recs: StoredRecord[] = [];
  private readonly inflight = new Set<Promise<void>>();
  private failed: { error: unknown } | undefined;
  constructor(
    private readonly hash: HashName,
    private readonly onChecked: (objs: WireObject[]) => Promise<boolean>,
    private readonly bad: (o: WireObject) => Error | Promise<Error>,
    /**
     * Batch buffers free for the next batches (a caller may share them between checkers: see
     * recycle). Why: a new buffer per batch and a copy of every object as it was read kept the
     * process about 90 MB bigger through the checkout that follows an import (peak RSS 290-307
     * MB against 195-204 MB before), and copying into fresh pages is slow on a VM.
     */
    private readonly spare: ArrayBuffer[] = [],
  ) {}

  /**
   * Gives back the batch buffer that objects passed to onChecked lie in, once their bytes are
   * used up (onChecked returned false for them).
   */
  recycle(buf: ArrayBuffer): void {
    if (buf.byteLength === BUFFER_BYTES && !this.spare.includes(buf) && this.spare.length < MAX_SPARE) this.spare.push(buf);
  }

  /**
   * Copies `o` into the batch, so its bytes may be a view that the caller reuses once this
   * returns; waits while WINDOW batches are being checked.
   */
  async add(o: WireObject): Promise<void> {
    if (this.failed) throw this.failed.error;
    const n = o.bytes.length;
    if (this.buf && this.at + n > this.buf.byteLength) await this.send();
    if (!this.buf) this.buf = n > BUFFER_BYTES ? new ArrayBuffer(n) : (this.spare.pop() ?? new ArrayBuffer(BUFFER_BYTES));
    new Uint8Array(this.buf, this.at, n).set(o.bytes);
    this.recs.push({ id: o.id, type: o.type, codec: o.codec, offset: this.at, stored: n, size: o.size });
    this.at += n;
    if (this.at >= BATCH_BYTES) await this.send();
  }

  /** Checks what is queued; resolves once every batch is through onChecked, or throws the first failure. */
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
    const job = chunkPool().verifyForeign(this.hash, buf, recs).then(async (r) => {
      const back = Buffer.from(r.buf);
      const checked = recs.map((x) => ({ id: x.id, type: x.type, codec: x.codec, size: x.size, bytes: back.subarray(x.offset, x.offset + x.stored) }));
      if (r.bad >= 0) throw await this.bad(checked[r.bad]);
      if (await this.onChecked(checked)) this.recycle(r.buf);
    }).catch((error: unknown) => { this.failed ??= { error }; });
    const tracked: Promise<void> = job.finally(() => this.inflight.delete(tracked));
    this.inflight.add(tracked);
    while (this.inflight.size >= WINDOW) await Promise.race(this.inflight);
    if (this.failed) throw this.failed.error;
  }
}

/**
 * Stores objects that came from a bundle or a hub once the chunk workers have checked them
 * (ForeignChecker), while the caller reads the next ones. Why: checked one by one on the main
 * thread, decoding and hashing were most of an import's CPU (the bench's v2 bundle, 545 MiB: 1.5
 * of 2.3 CPU-s) and the disk waited meanwhile. A bad object fails the whole transfer with
 * `bad(id)`; objects of batches checked before it may already be in the open pack,
 * unreferenced (gc removes them).
 */
export class VerifiedWriter {
  private readonly checker: ForeignChecker;

  constructor(private readonly store: ObjectStore, bad: (id: string) => Error) {
    this.checker = new ForeignChecker(store.hash, async (checked) => {
      if (this.store.putTrustedMany) await this.store.putTrustedMany(checked);
      else for (const x of checked) await this.store.put(x.type, await decode(x.codec, x.bytes), x.id);
      // Written to the pack: the buffer may take a later batch.
      return true;
    }, (o) => bad(o.id));
  }

  /** Queues `o` for checking and storing (nothing when the store has it); see ForeignChecker.add. */
  async add(o: WireObject): Promise<void> {
    if (this.store.has(o.id)) return;
    await this.checker.add(o);
  }

  /** Checks and stores what is queued; resolves once every batch is stored, or throws the first failure. */
  finish(): Promise<void> { return this.checker.finish(); }

  /** Waits for the batches in flight, whatever they give. */
  settle(): Promise<void> { return this.checker.settle(); }
}
