import type { Locator, Page } from '@playwright/test';
import { DotPage } from './dot-page';
import { CommitDialog, NewBranchDialog, CheckoutDialog, NewDotDialog } from './dialogs';

/** The window: dots list, toasts, and the screens below. */
export class AppPage {
  readonly dots: Locator;
  readonly newDotButton: Locator;
  readonly dot: DotPage;
  readonly commitDialog: CommitDialog;
  readonly newBranchDialog: NewBranchDialog;
  readonly checkoutDialog: CheckoutDialog;
  readonly newDotDialog: NewDotDialog;
  readonly welcome: Locator;

  constructor(readonly page: Page) {
    this.dots = page.getByRole('listbox', { name: 'Dots' });
    this.newDotButton = page.getByRole('button', { name: 'New dot' });
    this.dot = new DotPage(page);
    this.commitDialog = new CommitDialog(page);
    this.newBranchDialog = new NewBranchDialog(page);
    this.checkoutDialog = new CheckoutDialog(page);
    this.newDotDialog = new NewDotDialog(page);
    this.welcome = page.getByRole('heading', { name: 'Welcome to Dotdesk' });
  }

  /** A dot in the list. */
  dotItem(name: string): Locator { return this.dots.getByRole('option', { name, exact: true }); }

  /** Selects a dot in the list. */
  async openDot(name: string): Promise<DotPage> {
    await this.dotItem(name).click();
    await this.dot.heading(name).waitFor();
    return this.dot;
  }

  /** A notification containing text. */
  toast(text: string | RegExp): Locator { return this.page.locator('.toasts').getByRole('status').filter({ hasText: text }); }

  /** An error notification or inline error containing text. */
  alert(text: string | RegExp): Locator { return this.page.getByRole('alert').filter({ hasText: text }); }
}
