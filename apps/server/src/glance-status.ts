/**
 * What Glance's data route (`GET /v2/images/{id}/file`) answers for an image, as far as the
 * image's `status` alone decides it (read from Glance 25.1):
 *
 * - `serves`: `active` images have data and are served to anyone the policy lets download.
 * - `refuses` with 404: `deleted` and `pending_delete` rows are hidden by the image
 *   repository (`glance/db/__init__.py` `ImageRepo.get` raises NotFound for deleted rows,
 *   admins included).
 * - `refuses` with 204: `queued`, `saving`, `uploading`, `importing` and `killed` images
 *   have no active location, so `glance/location.py` `get_data` raises the store's
 *   NotFound and `image_data.py` answers `204 No Content`.
 * - `ask`: `deactivated` images are refused with 403 to non-admins and served to admins
 *   (`image_data.py` `download`), which only the origin knows; so is any status this
 *   table does not name.
 */
export type DataVerdict = { kind: 'serves' } | { kind: 'refuses'; status: 404 | 204 } | { kind: 'ask' };

const NOT_FOUND = new Set(['deleted', 'pending_delete']);
const NO_DATA = new Set(['queued', 'saving', 'uploading', 'importing', 'killed']);

/** The verdict for a Glance image `status` value (anything, as parsed from the origin's JSON). */
export function glanceDataVerdict(status: unknown): DataVerdict {
  if (status === 'active') return { kind: 'serves' };
  if (typeof status === 'string' && NOT_FOUND.has(status)) return { kind: 'refuses', status: 404 };
  if (typeof status === 'string' && NO_DATA.has(status)) return { kind: 'refuses', status: 204 };
  return { kind: 'ask' };
}

/** Whether a data response status delivers the image's bytes (2xx with content). */
export function deliversBytes(status: number): boolean {
  return status >= 200 && status < 300 && status !== 204 && status !== 205;
}
