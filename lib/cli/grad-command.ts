/** `vit22b grad`: the loss of a labelled batch and every parameter's gradient, under the weights' own names. */
import type { Command } from './commands';
import { INTEROP_OPTION_SPEC, INTEROP_OPTIONS_HELP, runInterop } from './interop-run';
import { parseOptions, usageError } from './parse-options';

const GRAD_USAGE = `usage: vit22b grad --config FILE --weights FILE [--weights-format native|timm] --input FILE --output FILE [--layout nhwc|nchw] [--loss softmax|sigmoid]

Computes the loss of the images and labels (I32 [B]) of --input and writes loss (F32 scalar) and
the gradient of every parameter, named and laid out as in --weights, to --output (safetensors).
For timm weights with separate attn_out_proj / mlp_out_proj, both biases get the same gradient
(only their sum acts on the model).
  --loss L                  softmax (default) | sigmoid (targets F32 [B, classes] from the input,
                            or one-hot labels)
${INTEROP_OPTIONS_HELP}`;

export const gradCommand: Command = {
  name: 'grad',
  aliases: [],
  summary: 'loss and every parameter gradient of a batch, under the weights\' names (native or timm)',
  usage: GRAD_USAGE,
  async run(args, io) {
    const o = parseOptions(args, INTEROP_OPTION_SPEC, GRAD_USAGE);
    if (o.help) {
      io.out(GRAD_USAGE + '\n');
      return 0;
    }
    // The option list is predict's too; its image-file options mean nothing here.
    const predictOnly = (['images', 'checkpoint', 'labels', 'top', 'normalize', 'crop-pct', 'precision'] as const).find((k) => o[k] !== undefined);
    if (predictOnly) throw usageError(`--${predictOnly} is an option of vit22b predict, not grad`, GRAD_USAGE, `--${predictOnly}`);
    const { output, tensors } = await runInterop(o, GRAD_USAGE, 'grad');
    const loss = (tensors.loss!.data as Float32Array)[0]!;
    io.out(`loss ${loss}; wrote it and ${Object.keys(tensors).length - 1} gradients to ${output}\n`);
    return 0;
  },
};
