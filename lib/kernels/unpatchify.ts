import { kernel } from './declare';
import { PATCH_DOC, patchChecks, patchFields } from './patchify';

export default kernel({
  name: 'unpatchify',
  fn: 'unpatchify',
  struct: 'PatchifyArgs',
  doc: PATCH_DOC,
  fields: patchFields('images'),
  checks: patchChecks,
});
