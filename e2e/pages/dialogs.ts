import type { Locator, Page } from '@playwright/test';

/** The Commit dialog. */
export class CommitDialog {
  readonly root: Locator;
  readonly message: Locator;
  readonly metadata: Locator;
  readonly submit: Locator;
  constructor(page: Page) {
    this.root = page.getByRole('dialog', { name: /^Commit to / });
    this.message = this.root.getByRole('textbox', { name: 'Commit message' });
    this.metadata = this.root.getByRole('textbox', { name: /Metadata/ });
    this.submit = this.root.getByRole('button', { name: 'Commit', exact: true });
  }
}

/** The New branch dialog. */
export class NewBranchDialog {
  readonly root: Locator;
  readonly name: Locator;
  readonly switchNow: Locator;
  readonly submit: Locator;
  constructor(page: Page) {
    this.root = page.getByRole('dialog', { name: 'New branch' });
    this.name = this.root.getByRole('textbox', { name: 'Branch name' });
    this.switchNow = this.root.getByRole('checkbox', { name: /Switch to the new branch/ });
    this.submit = this.root.getByRole('button', { name: 'Create branch' });
  }
}

/** The checkout confirmation. */
export class CheckoutDialog {
  readonly root: Locator;
  readonly confirm: Locator;
  constructor(page: Page) {
    this.root = page.getByRole('dialog', { name: /^Switch to / });
    this.confirm = this.root.getByRole('button', { name: 'Switch branch' });
  }
}

/** The New dot dialog. */
export class NewDotDialog {
  readonly root: Locator;
  readonly name: Locator;
  readonly submit: Locator;
  constructor(page: Page) {
    this.root = page.getByRole('dialog', { name: 'New dot' });
    this.name = this.root.getByRole('textbox', { name: 'Dot name' });
    this.submit = this.root.getByRole('button', { name: 'Create dot' });
  }
}
