/**
 * Writing past the page cache (O_DIRECT, Linux). Checkout and pack writes use it for big
 * sequential writes: they neither evict what other programs cache nor wait for fresh
 * page-cache pages, which on VMs that hand free memory back to the hypervisor cost more than
 * the disk write itself (bench/README.md). DM_DIRECT_IO=0 turns it off.
 */
import { promises as fsp, constants as fsc } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';

/**
 * Direct writes cover whole blocks of this size at offsets that are multiples of it; the rest
 * goes through the page cache. 64 KiB is a multiple of every page and block size in use, so a
 * page is never written both ways at once.
 */
export const DIRECT_ALIGN = 64 * 1024;

/** O_DIRECT when this platform has it and it is not turned off, else undefined. */
export function directFlag(): number | undefined {
  return process.platform === 'linux' && process.env.DM_DIRECT_IO !== '0' ? fsc.O_DIRECT : undefined;
}

/** The file opened again for O_DIRECT writes, when the platform and filesystem allow it. */
export async function openDirect(file: string): Promise<FileHandle | undefined> {
  const flag = directFlag();
  if (flag === undefined) return undefined;
  try { return await fsp.open(file, fsc.O_WRONLY | flag); } catch { return undefined; }
}

interface WasmMemory { readonly buffer: ArrayBuffer; grow(pages: number): number }
const WasmMemoryCtor = (globalThis as unknown as { WebAssembly: { Memory: new (d: { initial: number }) => WasmMemory } }).WebAssembly.Memory;

/**
 * A growable buffer whose start is page-aligned, as O_DIRECT needs (Node's buffers are not).
 * Why WebAssembly memory: V8 maps it on its own pages, and growing keeps the start aligned.
 */
export class AlignedBuffer {
  private mem = new WasmMemoryCtor({ initial: 1 });
  /** A view of the first `n` bytes (grows the memory when needed; earlier views go stale then). */
  view(n: number): Buffer {
    const have = this.mem.buffer.byteLength;
    if (have < n) this.mem.grow(Math.ceil((n - have) / 65536));
    return Buffer.from(this.mem.buffer, 0, n);
  }
}
