import { f, kernel } from './declare';

export default kernel({
  name: 'adamw',
  fn: 'adamw',
  struct: 'AdamwArgs',
  doc: `One AdamW step on one parameter tensor, in place, f32 master weights (formula: AdamwHyper).
param, m and v are f32, grad f32 or bf16; every written buffer is distinct from every other operand.
In a plan, step, lr, weightDecay and gradScale may be dynamic: the schedule's learning rate and the
clip factor change every step while the call stays prepared.`,
  fields: {
    hyper: f.flat('AdamwHyper'),
    tensor: f.flat('AdamwTensor'),
  },
});
