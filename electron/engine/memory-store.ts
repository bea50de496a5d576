import { DmError } from '../contract/errors';
import { ObjectStore, ObjectType, ObjectInfo, objectId, HashName, DEFAULT_HASH } from './objects';

/** An in-memory object store: for unit tests and scratch work (same contract as PackStore). */
export class MemoryStore implements ObjectStore {
  private objects = new Map<string, { type: ObjectType; data: Buffer }>();
  constructor(readonly hash: HashName = DEFAULT_HASH) {}
  has(id: string): boolean { return this.objects.has(id); }
  info(id: string): ObjectInfo | undefined { const o = this.objects.get(id); return o && { id, type: o.type, size: o.data.length }; }
  async get(id: string): Promise<Buffer> {
    const o = this.objects.get(id);
    if (!o) throw new DmError('OBJECT_MISSING', `Object ${id.slice(0, 12)} is missing from the store.`, undefined, { id });
    return Buffer.from(o.data);
  }
  async put(type: ObjectType, data: Uint8Array, knownId?: string): Promise<string> {
    const id = knownId ?? objectId(type, data, this.hash);
    if (!this.objects.has(id)) this.objects.set(id, { type, data: Buffer.from(data) });
    return id;
  }
  async flush(): Promise<void> {}
  ids(): Iterable<string> { return this.objects.keys(); }
  async close(): Promise<void> {}
}
