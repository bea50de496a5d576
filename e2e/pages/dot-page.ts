import type { Locator, Page } from '@playwright/test';

/** The dot screen: header, changes, branches, subdots, history, commit details. */
export class DotPage {
  readonly commitButton: Locator;
  readonly newBranchButton: Locator;
  readonly uncommitted: Locator;
  readonly clean: Locator;
  readonly history: Locator;
  readonly details: Locator;
  readonly branches: Locator;
  readonly subdots: Locator;

  constructor(readonly page: Page) {
    this.commitButton = page.getByRole('button', { name: 'Commit…', exact: true });
    this.newBranchButton = page.getByRole('button', { name: 'New branch…', exact: true });
    this.uncommitted = page.getByRole('status', { name: 'Uncommitted changes' });
    this.clean = page.getByRole('status', { name: 'Working state' });
    this.history = page.getByRole('listbox', { name: 'Commit history' });
    this.details = page.getByRole('region', { name: 'Commit details' });
    this.branches = page.getByRole('list', { name: 'Branches' });
    this.subdots = page.getByRole('list', { name: 'Subdots' });
  }

  heading(name: string): Locator { return this.page.getByRole('heading', { level: 1, name, exact: true }); }
  /** The chip naming the current branch in the header. */
  currentBranchChip(name: string): Locator { return this.page.getByLabel(`Current branch ${name}`, { exact: true }); }
  /** The current branch's row in the branch list. */
  currentBranch(name: string): Locator { return this.branches.getByRole('button', { name: `${name} (current branch)` }); }
  /** The button that switches to a branch. */
  switchTo(name: string): Locator { return this.branches.getByRole('button', { name: `Switch to branch ${name}`, exact: true }); }
  subdot(name: string): Locator { return this.subdots.getByRole('listitem', { name: `Subdot ${name}` }); }
  /** A commit row of the timeline, by its first message line. */
  commit(message: string): Locator { return this.history.getByRole('option', { name: message, exact: true }); }
}
