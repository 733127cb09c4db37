import { UsageError } from '../errors.js';

const PLACEHOLDER = '{id}';

/**
 * Checks an origin URL template such as `http://glance:9292/v2/images/{id}/file`.
 * @throws {UsageError} when it has no `{id}` or is not an http(s) URL.
 */
export function parseOriginTemplate(template: string): string {
  if (!template.includes(PLACEHOLDER)) {
    throw new UsageError(
      `The origin URL must contain {id} where the image id goes, e.g. http://glance:9292/v2/images/{id}/file (got ${template}).`,
    );
  }
  let url: URL;
  try {
    url = new URL(originUrlFor(template, 'image-id'));
  } catch (error) {
    throw new UsageError(`The origin URL ${template} is not a valid URL.`, { cause: error });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new UsageError(`The origin URL must be http or https (got ${url.protocol}).`);
  return template;
}

/** The URL of one image: every `{id}` replaced by the (already validated, URL-safe) id. */
export function originUrlFor(template: string, imageId: string): string {
  return template.split(PLACEHOLDER).join(encodeURIComponent(imageId));
}
