import type { Locator, Page } from '@playwright/test';

/** Remotes settings, push / pull per branch, links and bundles. */
export class SharingPage {
  readonly remotesButton: Locator;
  readonly cloneButton: Locator;
  readonly remotesDialog: Locator;
  readonly importDialog: Locator;
  readonly bundleInput: Locator;

  constructor(readonly page: Page) {
    this.remotesButton = page.getByRole('button', { name: /^Remotes/ });
    this.cloneButton = page.getByRole('button', { name: 'Clone from a hub…' });
    this.remotesDialog = page.getByRole('dialog', { name: 'Remotes' });
    this.importDialog = page.getByRole('dialog', { name: /^Import / });
    this.bundleInput = page.getByLabel('Import a bundle file');
  }

  /** Adds a remote through the settings dialog (the dialog stays open). */
  async addRemote(name: string, spec: string, key: string): Promise<void> {
    const d = this.remotesDialog;
    await d.getByLabel('Name').fill(name);
    await d.getByLabel(/User and hub/).fill(spec);
    await d.getByLabel('API key').fill(key);
    await d.getByRole('button', { name: 'Add remote' }).click();
  }

  /** A configured remote's row. */
  remoteRow(name: string): Locator { return this.remotesDialog.getByRole('row', { name: `Remote ${name}` }); }
  /** The ahead/behind text of a branch. */
  sync(branch: string): Locator { return this.page.getByTestId(`sync-${branch}`); }
  pushButton(branch: string): Locator { return this.page.getByRole('button', { name: `Push ${branch}`, exact: true }); }
  pullButton(branch: string): Locator { return this.page.getByRole('button', { name: `Pull ${branch}`, exact: true }); }
  copyLink(label: string): Locator { return this.page.getByRole('button', { name: `Copy link to ${label}` }); }
  download(label: string): Locator { return this.page.getByRole('link', { name: `Download bundle of ${label}` }); }
}
