/**
 * `vit22b predict`: top-k labels of image files (--images, lib/cli/predict-images.ts), or logits and
 * pre-logits features of a batch of images in a safetensors file, from our or timm's weights.
 */
import type { Command } from './commands';
import { INTEROP_OPTION_SPEC, INTEROP_OPTIONS_HELP, runInterop } from './interop-run';
import { parseOptions } from './parse-options';
import { PREDICT_IMAGES_HELP, predictImages } from './predict-images';

const PREDICT_USAGE = `usage: vit22b predict --images PATH (--checkpoint DIR | --config FILE --weights FILE [--weights-format native|timm]) [--top K] [--json]
       vit22b predict --config FILE --weights FILE [--weights-format native|timm] --input FILE --output FILE [--layout nhwc|nchw]

With --images: classifies image files and prints each one's top-k labels with probabilities.
With --input: runs the model on the images of a safetensors file and writes logits (F32 [B, classes])
and features (F32 [B, width], the pooled pre-logits) to --output (safetensors).
${PREDICT_IMAGES_HELP}
${INTEROP_OPTIONS_HELP}`;

export const predictCommand: Command = {
  name: 'predict',
  aliases: [],
  summary: 'top-k labels of image files, or logits and features of a tensor file (our or timm weights)',
  usage: PREDICT_USAGE,
  async run(args, io) {
    const o = parseOptions(args, INTEROP_OPTION_SPEC, PREDICT_USAGE);
    if (o.help) {
      io.out(PREDICT_USAGE + '\n');
      return 0;
    }
    if (o.images !== undefined) return predictImages(o, PREDICT_USAGE, io);
    const { output, tensors } = await runInterop(o, PREDICT_USAGE, 'predict');
    io.out(`wrote logits ${JSON.stringify(tensors.logits!.shape)} and features ${JSON.stringify(tensors.features!.shape)} to ${output}\n`);
    return 0;
  },
};
