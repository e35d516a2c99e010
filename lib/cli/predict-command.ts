/** `vit22b predict`: logits and pre-logits features of a batch of images, from our or timm's weights. */
import type { Command } from './commands';
import { INTEROP_OPTION_SPEC, INTEROP_OPTIONS_HELP, runInterop } from './interop-run';
import { parseOptions } from './parse-options';

const PREDICT_USAGE = `usage: vit22b predict --config FILE --weights FILE [--weights-format native|timm] --input FILE --output FILE [--layout nhwc|nchw]

Runs the model on the images of --input and writes logits (F32 [B, classes]) and features (F32
[B, width], the pooled pre-logits) to --output (safetensors).
${INTEROP_OPTIONS_HELP}`;

export const predictCommand: Command = {
  name: 'predict',
  aliases: [],
  summary: 'logits and features of images, from our weights or timm VisionTransformer weights',
  usage: PREDICT_USAGE,
  async run(args, io) {
    const o = parseOptions(args, INTEROP_OPTION_SPEC, PREDICT_USAGE);
    if (o.help) {
      io.out(PREDICT_USAGE + '\n');
      return 0;
    }
    const { output, tensors } = await runInterop(o, PREDICT_USAGE, 'predict');
    io.out(`wrote logits ${JSON.stringify(tensors.logits!.shape)} and features ${JSON.stringify(tensors.features!.shape)} to ${output}\n`);
    return 0;
  },
};
