// Validation of API input. No dependencies, so the unit tests can load it.

const MAX_COORD = 100000;

/** Validate a click from the API: finite numbers in [0, 100000], rounded. */
export function parseClick(body) {
  const x = Number(body?.x);
  const y = Number(body?.y);
  if (!Number.isFinite(x) || !Number.isFinite(y) || x < 0 || y < 0 || x > MAX_COORD || y > MAX_COORD) {
    return null;
  }
  return { x: Math.round(x), y: Math.round(y) };
}

export const MAX_NAME = 40;

/**
 * Validate a user name from the API: returns the trimmed name, or an error
 * message.
 *
 * KNOWN BUG (d), kept on purpose for the Dotdesk tutorial: the empty name is
 * accepted. The account with the empty name is the site's "template" account
 * whose image every new user starts with, so anyone who signs up with an
 * empty name and uploads an image sets the default image for every new user.
 */
export function parseName(body) {
  const name = String(body?.name ?? '').trim();
  if (name.length > MAX_NAME) return { error: `name is longer than ${MAX_NAME} characters` };
  // (the missing check: if (name === '') return { error: 'name is empty' })
  return { name };
}

