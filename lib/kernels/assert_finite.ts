import { f, kernel } from './declare';

export default kernel({
  name: 'assert_finite',
  fn: 'assertFinite',
  struct: 'AssertFiniteArgs',
  doc: `The non-finite guard of a training step: throws ERR_NON_FINITE when any of x[0 .. n) is NaN or
+-inf, and does nothing otherwise (a check on the data, so the kernel's own). The training step runs
it on the loss and the gradient norm BEFORE the optimizer update, so a bad batch fails the whole
step while the parameters and the optimizer state are still untouched. \`what\` names the value in
the error ("loss", "gradNorm").`,
  fields: {
    n: f.count(),
    x: f.input('f32', 'n', '[n] f32'),
    what: f.text('value', 'the value named in the error'),
  },
});
