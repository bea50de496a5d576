// Size of the box a click's logo is drawn in. Shared by the page (app.js)
// and the unit tests.

/** Width of every logo on the board, in CSS pixels. */
export const LOGO_WIDTH = 48;

/**
 * The box for an image of naturalWidth x naturalHeight pixels, scaled to
 * `width`: { width, height, imageHeight }. The image is drawn imageHeight
 * tall from the top of the box; what does not fit is cut off.
 *
 * KNOWN BUG (c), kept on purpose for the Dotdesk tutorial: tall images were
 * meant to be capped, but the box is halved instead, so only the top half of
 * a tall uploaded image shows.
 */
export function logoBox(naturalWidth, naturalHeight, width = LOGO_WIDTH) {
  if (!(naturalWidth > 0) || !(naturalHeight > 0)) return { width, height: width, imageHeight: width };
  const imageHeight = Math.round((width * naturalHeight) / naturalWidth);
  const height = naturalHeight > naturalWidth ? Math.round(imageHeight / 2) : imageHeight;
  return { width, height, imageHeight };
}
