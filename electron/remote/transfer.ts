import { DmError } from '../contract/errors';
import type { ProgressEvent } from '../contract/models';
import type { Engine } from '../engine/store';
import { decodeTree } from '../engine/model';
import { HubClient, IDS_PER_REQUEST } from './hub-client';
import { RecordReader, recordHeader, verifyWire, WireObject } from './records';
import { checkedCommit, checkedTree, validateCommit } from './validate';
import { VerifiedWriter } from './verified-writer';

/** What a transfer moved. */
export interface TransferStats { commits: number; trees: number; chunks: number; objects: number; bytes: number; chunkBytes: number; batches: number; seconds: number }

/** Target size of one upload batch: large enough to amortize a round trip, small enough to resume cheaply. */
export const BATCH_BYTES = Number(process.env.DM_TRANSFER_BATCH_BYTES ?? 8 * 1024 * 1024);
/** Chunk ids per download request. */
const FETCH_IDS = Number(process.env.DM_FETCH_IDS ?? 1024);

function emptyStats(): TransferStats { return { commits: 0, trees: 0, chunks: 0, objects: 0, bytes: 0, chunkBytes: 0, batches: 0, seconds: 0 }; }

/** Test hook: kill this process after N acknowledged batches (simulates a transfer cut half way). */
function maybeDie(batches: number): void {
  const n = Number(process.env.DM_TEST_KILL_AFTER_BATCHES ?? 0);
  if (n > 0 && batches >= n) process.kill(process.pid, 'SIGKILL');
}

/** Every commit reachable from head in the local store, with parents. */
async function localCommits(engine: Engine, head: string): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  const todo = [head];
  while (todo.length) {
    const id = todo.pop()!;
    if (out.has(id)) continue;
    const c = await engine.readCommit(id);
    out.set(id, c.parents);
    todo.push(...c.parents);
  }
  return out;
}

/** Orders ids so every id comes after the ids it refers to (iterative post-order DFS). */
export function childrenFirst(roots: Iterable<string>, kids: (id: string) => string[] | undefined): string[] {
  const out: string[] = [];
  const state = new Map<string, 1 | 2>();
  for (const r of roots) {
    if (state.has(r)) continue;
    const stack: [string, number][] = [[r, 0]];
    state.set(r, 1);
    while (stack.length) {
      const top = stack[stack.length - 1];
      const ks = kids(top[0]) ?? [];
      if (top[1] < ks.length) {
        const k = ks[top[1]++];
        if (!state.has(k) && kids(k) !== undefined) { state.set(k, 1); stack.push([k, 0]); }
      } else { stack.pop(); state.set(top[0], 2); out.push(top[0]); }
    }
  }
  return out;
}

/**
 * Uploads everything `head` needs that the hub's dot lacks. Negotiation first: the commit ids
 * (one "have?" per 10000 ids), then tree ids level by level (a tree the hub has is complete, the
 * hub guarantees it), then chunk ids. Objects are sent as stored, children first, in batches of
 * about 8 MiB read from the store one batch at a time; each batch is durable on the hub when
 * acknowledged, so a cut transfer resumes where it stopped (negotiation skips what arrived).
 */
export async function pushObjects(engine: Engine, client: HubClient, owner: string, dot: string, head: string, onProgress?: (p: ProgressEvent) => void): Promise<TransferStats> {
  const t0 = Date.now();
  const st = emptyStats();
  onProgress?.({ op: 'push', phase: 'negotiating', doneBytes: 0, message: 'commits' });
  const commits = await localCommits(engine, head);
  const missingCommits = await client.missing(owner, dot, [...commits.keys()]);
  const treeKids = new Map<string, string[]>();
  const chunkSet = new Set<string>();
  let level: string[] = [];
  for (const id of missingCommits) for (const r of Object.values((await engine.readCommit(id)).subdots)) level.push(r.tree);
  const seen = new Set<string>();
  while (level.length) {
    level = [...new Set(level)].filter((t) => !seen.has(t));
    for (const t of level) seen.add(t);
    onProgress?.({ op: 'push', phase: 'negotiating', doneBytes: 0, message: `${seen.size} trees` });
    const lacking = await client.missing(owner, dot, level);
    const next: string[] = [];
    for (const t of level) {
      if (!lacking.has(t)) continue;
      const tree = decodeTree(await engine.objects.get(t), t);
      const kids: string[] = [];
      for (const e of tree.entries) {
        if (e.type === 'dir') { kids.push(e.tree); next.push(e.tree); } else if (e.type === 'file') for (const c of e.chunks) chunkSet.add(c);
      }
      treeKids.set(t, kids);
    }
    level = next;
  }
  onProgress?.({ op: 'push', phase: 'negotiating', doneBytes: 0, message: `${chunkSet.size} chunks` });
  const chunks = [...await client.missing(owner, dot, [...chunkSet])];
  const trees = childrenFirst(treeKids.keys(), (id) => treeKids.get(id));
  const commitOrder = childrenFirst(missingCommits, (id) => (missingCommits.has(id) ? commits.get(id)!.filter((p) => missingCommits.has(p)) : undefined));
  const order = [...chunks, ...trees, ...commitOrder];
  let total = 0;
  for (const id of order) total += (engine.objects.locate(id)?.stored ?? 0) + 42;
  let done = 0;
  let batch: Buffer[] = [];
  let batchBytes = 0;
  // Chunk batches are independent: up to WINDOW of them are in flight (the hub verifies one while
  // the next is read and sent). Trees and commits refer to chunks, so they go only after every
  // chunk batch was acknowledged (the hub refuses references to objects it does not have yet).
  const WINDOW = 3;
  const inflight = new Set<Promise<void>>();
  let failed: unknown;
  const send = async (pipelined: boolean) => {
    if (!batch.length) return;
    const records = batch, n = batchBytes;
    batch = []; batchBytes = 0;
    const p = client.upload(owner, dot, records).then(() => {
      st.batches++;
      st.bytes += n;
      done += n;
      onProgress?.({ op: 'push', phase: 'sending', doneBytes: done, totalBytes: total });
      maybeDie(st.batches);
    }, (e) => { failed ??= e; });
    const tracked: Promise<void> = p.finally(() => inflight.delete(tracked));
    inflight.add(tracked);
    if (!pipelined) await drain();
    else while (inflight.size >= WINDOW) await Promise.race(inflight);
    if (failed) throw failed;
  };
  const drain = async () => { await Promise.all([...inflight]); if (failed) throw failed; };
  const nChunks = chunks.length;
  for (let i = 0; i < order.length; i++) {
    const id = order[i];
    if (i === nChunks) { await send(true); await drain(); }
    const { loc, bytes } = await engine.objects.readStored(id);
    batch.push(recordHeader({ type: loc.type, id, codec: loc.codec, size: loc.size, stored: bytes.length }), bytes);
    batchBytes += bytes.length + 42;
    if (i < nChunks) { st.chunks++; st.chunkBytes += bytes.length; } else if (loc.type === 'tree') st.trees++; else st.commits++;
    st.objects++;
    if (batchBytes >= BATCH_BYTES) await send(i < nChunks);
  }
  await send(false);
  await drain();
  st.seconds = (Date.now() - t0) / 1000;
  return st;
}

/** Reads one fetch answer: exactly the records asked for, in order, each verified. */
async function* fetched(client: HubClient, owner: string, dot: string, ids: string[], onBytes: (n: number) => void, copy = true): AsyncGenerator<WireObject> {
  const res = await client.fetch(owner, dot, ids);
  const reader = new RecordReader(res, { onBytes });
  try {
    for (const want of ids) {
      const o = await reader.record(copy);
      if (o.id !== want) throw new DmError('STORE_CORRUPT', `The hub sent ${o.id.slice(0, 12)} where ${want.slice(0, 12)} was asked.`, 'Retry; if it persists the hub is damaged.');
      yield o;
    }
  } finally { res.destroy(); }
}

/**
 * Downloads everything `head` needs that the local store lacks, verifying every object.
 * Chunks are streamed into the store batch by batch and flushed (a cut pull resumes); trees and
 * commits are checked (hashes, unsafe paths, hard links through symlinks) and stored last,
 * children first, so a stored commit is always complete. Callers hold the store lock.
 */
export async function fetchObjects(engine: Engine, client: HubClient, owner: string, dot: string, head: string, onProgress?: (p: ProgressEvent) => void, op = 'pull'): Promise<TransferStats> {
  const t0 = Date.now();
  const st = emptyStats();
  if (engine.objects.info(head)?.type === 'commit') return st;
  let received = 0;
  const onBytes = (n: number) => { received += n; st.bytes += n; };
  onProgress?.({ op, phase: 'negotiating', doneBytes: 0, message: 'commits' });
  const graph = await client.commits(owner, dot, head);
  const parents = new Map(graph.map((c) => [c.id, c.parents]));
  const need = graph.map((c) => c.id).filter((id) => !engine.objects.has(id));
  const mem = new Map<string, WireObject & { data: Buffer }>();
  const getMany = async (ids: string[]) => {
    for (let i = 0; i < ids.length; i += IDS_PER_REQUEST) {
      for await (const o of fetched(client, owner, dot, ids.slice(i, i + IDS_PER_REQUEST), onBytes)) mem.set(o.id, { ...o, data: await verifyWire(o, engine.hash) });
    }
  };
  await getMany(need);
  let level: string[] = [];
  for (const id of need) {
    const c = checkedCommit(mem.get(id)!.data, id);
    if (mem.get(id)!.type !== 'commit') throw new DmError('STORE_CORRUPT', `${id.slice(0, 12)} is not a commit.`);
    const ps = parents.get(id) ?? [];
    if (ps.length !== c.parents.length || ps.some((p, i) => p !== c.parents[i])) throw new DmError('STORE_CORRUPT', `The hub's commit list does not match commit ${id.slice(0, 12)}.`);
    for (const p of c.parents) if (!parents.has(p) && !engine.objects.has(p)) throw new DmError('STORE_CORRUPT', `The hub's commit list misses parent ${p.slice(0, 12)}.`);
    for (const r of Object.values(c.subdots)) level.push(r.tree);
  }
  /**
   * Every chunk the new trees name, with its share of the first file that names it: the bytes
   * it holds, about (a file's size over its chunks). Why: the hub says nothing of sizes before
   * it sends, and the files' sizes give the pull a total to show progress against.
   */
  const chunkSet = new Map<string, number>();
  const treeKids = new Map<string, string[]>();
  while (level.length) {
    level = [...new Set(level)].filter((t) => !mem.has(t) && !engine.objects.has(t));
    onProgress?.({ op, phase: 'negotiating', doneBytes: received, message: `${treeKids.size + level.length} trees` });
    await getMany(level);
    const next: string[] = [];
    for (const t of level) {
      const o = mem.get(t)!;
      if (o.type !== 'tree') throw new DmError('STORE_CORRUPT', `${t.slice(0, 12)} is not a tree.`);
      const kids: string[] = [];
      for (const e of checkedTree(o.data, t).entries) {
        if (e.type === 'dir') { kids.push(e.tree); next.push(e.tree); } else if (e.type === 'file') for (const c of e.chunks) if (!chunkSet.has(c)) chunkSet.set(c, e.size / e.chunks.length);
      }
      treeKids.set(t, kids);
    }
    level = next;
  }
  // Why validate before storing any chunk: a hostile tree is refused before it costs disk space.
  const load = async (id: string) => mem.get(id)?.data ?? engine.objects.get(id);
  for (const id of need) await validateCommit(load, id);
  const chunks = [...chunkSet.keys()].filter((c) => !engine.objects.has(c));
  onProgress?.({ op, phase: 'negotiating', doneBytes: received, message: `${chunks.length} chunks` });
  // Progress counts the data the chunks hold (as a checkout writes it), not the bytes on the wire.
  let total = Math.round(chunks.reduce((sum, c) => sum + chunkSet.get(c)!, 0));
  let got = 0;
  const receiving = () => onProgress?.({ op, phase: 'receiving', doneBytes: got, totalBytes: (total = Math.max(total, got)) });
  if (chunks.length) receiving();
  const writer = new VerifiedWriter(engine.objects, (id) => new DmError('STORE_CORRUPT', `Received object ${id.slice(0, 12)} does not match its hash.`, 'The transfer or file is damaged; nothing was stored from it.', { id }));
  for (let i = 0; i < chunks.length; i += FETCH_IDS) {
    try {
      // Not copied: the writer copies each chunk into its batch before the next is read.
      for await (const o of fetched(client, owner, dot, chunks.slice(i, i + FETCH_IDS), onBytes, false)) {
        if (o.type !== 'chunk') throw new DmError('STORE_CORRUPT', `${o.id.slice(0, 12)} is not a chunk.`);
        await writer.add(o);
        st.chunks++; st.chunkBytes += o.bytes.length;
        got += o.size;
        receiving();
      }
      await writer.finish();
    } finally { await writer.settle(); }
    // Why flush per batch: what arrived stays when the pull is cut, and is not fetched again.
    await engine.objects.flush();
    st.batches++;
    maybeDie(st.batches);
  }
  // The estimate counted a chunk that files share at the first one's share: end the bar full.
  if (got < total) { total = got; receiving(); }
  for (const t of childrenFirst(treeKids.keys(), (id) => treeKids.get(id))) { const o = mem.get(t)!; await engine.objects.putEncoded(t, 'tree', o.codec, o.size, o.bytes); st.trees++; }
  const needSet = new Set(need);
  for (const c of childrenFirst(need, (id) => (needSet.has(id) ? parents.get(id)!.filter((p) => needSet.has(p)) : undefined))) { const o = mem.get(c)!; await engine.objects.putEncoded(c, 'commit', o.codec, o.size, o.bytes); st.commits++; }
  await engine.objects.flush();
  st.objects = st.chunks + st.trees + st.commits;
  st.seconds = (Date.now() - t0) / 1000;
  return st;
}
