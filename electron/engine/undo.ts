import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { DmError } from '../contract/errors';
import type { OpEntry } from '../contract/models';
import { Engine, Journal, newGenId } from './store';
import { atomicWrite, exists } from './fsutil';
import { restoreBranch } from './branch';
import { restoreDot } from './dots';
import { reset } from './reset';

/**
 * Undoes the last operation (of `dot`, or of the whole store): a commit (the branch head moves
 * back, the working state keeps the changes), a checkout (back to the previous branch), a reset
 * or pull (head and working state back, including uncommitted changes it set aside), a branch
 * or dot deletion (restored from the trash).
 */
export async function undo(engine: Engine, dot?: string): Promise<OpEntry> {
  return engine.withLock('undo', async () => {
    const ops = (await engine.ops()).filter((o) => !o.undone && (!dot || o.dot === dot));
    const op = ops.at(-1);
    if (!op) throw new DmError('NOTHING_TO_UNDO', dot ? `Nothing to undo for dot "${dot}".` : 'Nothing to undo.');
    const stale = () => new DmError('NOTHING_TO_UNDO', `The last operation (${op.summary}) can no longer be undone: the dot changed since.`, 'Use "dm reset" with a commit from "dm log" or the reflog.');
    switch (op.op) {
      case 'commit': {
        if ((await engine.readRef(op.dot, op.branch!)) !== op.to) throw stale();
        await engine.moveRef(op.dot, op.branch!, op.to ?? null, op.from ?? null, 'undo', `undo commit ${op.to?.slice(0, 12)}`);
        break;
      }
      case 'checkout': {
        if ((await engine.currentBranch(op.dot)) !== op.branch || (await engine.readRef(op.dot, op.fromBranch!)) === undefined) throw stale();
        await atomicWrite(path.join(engine.dotDir(op.dot), 'HEAD'), op.fromBranch + '\n');
        break;
      }
      case 'reset': case 'pull': {
        if ((await engine.readRef(op.dot, op.branch!)) !== op.to || (await engine.currentBranch(op.dot)) !== op.branch) throw stale();
        if (op.trash && (await exists(op.trash))) {
          // The reset set aside uncommitted changes: put that exact working state back.
          const gen = newGenId();
          await fsp.rename(op.trash, engine.genDir(op.dot, gen));
          const oldGen = (await engine.genOf(op.dot, op.branch!))!;
          const j: Journal = { op: 'reset', branch: op.branch!, gen, oldGen, from: op.to ?? null, to: op.from ?? null };
          await atomicWrite(engine.journalPath(op.dot), JSON.stringify(j));
          await engine.applyJournal(op.dot, j);
          await fsp.rm(engine.journalPath(op.dot), { force: true });
          await engine.appendReflog(op.dot, op.branch!, op.to, op.from ?? null, 'undo', `undo ${op.op}`);
        } else if (op.from) {
          await reset(engine, op.dot, op.from, {});
          // reset logged its own op; mark that one undone too so undo does not ping-pong.
          const last = (await engine.ops()).at(-1);
          if (last) await engine.markUndone(last.seq);
        } else throw stale();
        break;
      }
      case 'branch-delete': await restoreBranch(engine, op.dot, op.branch!, op.trash!); break;
      case 'dot-delete': await restoreDot(engine, op.dot, op.trash!); break;
      default: throw stale();
    }
    await engine.markUndone(op.seq);
    return op;
  });
}
