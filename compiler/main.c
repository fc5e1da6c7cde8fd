/* nncc's entry: picks the command. Only here do errors become exit codes. */
#include <stdio.h>
#include <string.h>

#include "driver.h"
#include "version.h"

static const char usage[] =
    "usage: nncc MODEL [-o OUT.c] [options]        compile to OUT.c and OUT.h\n"
    "       nncc info MODEL [options]              inputs, outputs, ops, sizes, cost\n"
    "       nncc run MODEL [run options]           compile, build with $CC, run\n"
    "       nncc export MODEL -o OUT.onnx          the inferred, folded graph as ONNX\n"
    "       nncc export MODEL --checkpoint CKPT -o OUT.onnx [train options]\n"
    "                                              a trainer's checkpoint as ONNX\n"
    "       nncc train MODEL [-o train.c] [train options]  the training program\n"
    "MODEL is an ONNX file, or a .nn file in nncc's network language (docs/language.md).\n"
    "\n"
    "options (all commands):\n"
    "  --shape NAME=D0xD1x...  fix the shape of input NAME (its open dimensions)\n"
    "  --model NAME            the model of a .nn file that holds several (a GAN's\n"
    "                          generator and discriminator); default: the first\n"
    "  --freeze NAME=FILE      compile input NAME in as a constant, its value read\n"
    "                          from FILE (.npy or TensorProto .pb; a Sequence- or\n"
    "                          OptionalProto .pb for such inputs); `nncc run` does\n"
    "                          this by itself for inputs that must be constants\n"
    "  -O0 | -O2               optional passes off | on (default -O2; -O1 and -O3\n"
    "                          are taken as -O2)\n"
    "  --dump-ir PASS          print the IR after PASS (bind-shapes, resolve-ops,\n"
    "                          gradient-pin, infer, gradient, dce, fuse-activation\n"
    "                          (-O1 and up), bounded, plan, strings, or all; nncc\n"
    "                          train adds train-forward, mark-trainable, autodiff,\n"
    "                          train-mask, plan-state) to stderr\n"
    "  --string-bytes N        room for each string a string op makes or splits,\n"
    "                          its NUL included (default 256); a longer one makes\n"
    "                          the entry point return 1\n"
    "compile options:\n"
    "  -o OUT.c                output file (default: MODEL's base name + .c);\n"
    "                          the header goes beside it as OUT.h\n"
    "  --prefix NAME           symbol prefix (default: OUT's base name)\n"
    "  --no-openmp             do not mark loops for OpenMP\n"
    "train options (a .nn model's train block gives the defaults; docs/training.md):\n"
    "  -o OUT.c                output file (default train.c), header beside it:\n"
    "                          the trainer program (module, runtime, main; builds\n"
    "                          alone: cc -O2 OUT.c -lm -lz; run it with --help)\n"
    "  --build                 also compile it with $CC into OUT (OUT.c minus .c)\n"
    "  --module-only           write the training module alone (no runtime, no main)\n"
    "  --prefix NAME           symbol prefix (default: OUT's base name)\n"
    "  --loss L                mse, mae, bce, ce, nll or hinge\n"
    "  --from-logits           bce/ce: the output is raw scores\n"
    "  --output NAME           the output the loss applies to (several outputs)\n"
    "  --optimizer O           sgd, momentum, nesterov, adagrad, rmsprop, adam,\n"
    "                          adamw (PyTorch's formulas and defaults)\n"
    "  --batch B               samples per step, fixed at compile time (default:\n"
    "                          the train block's, else 1; update = sample: 1)\n"
    "  --lr X                  the trainer's default learning rate\n"
    "  --momentum --beta1 --beta2 --rho --epsilon --weight-decay X\n"
    "                          optimizer settings (torch.optim's meanings)\n"
    "  --l1 X, --l2 X          add X*|w|, X*w^2 per weight to the loss\n"
    "  --clip-value X          clamp each gradient element to [-X, X]\n"
    "  --clip-norm X           scale the gradients to a global L2 norm of at most X\n"
    "  --no-train PREFIX       weights whose names start with PREFIX are not trained\n"
    "                          (they stay in the state as buffers); repeatable\n"
    "  --no-openmp             do not mark loops for OpenMP\n"
    "  a GAN .nn file (a model whose loss reads D(G(z)), D with a loss of its own;\n"
    "  models/nn/dcgan.nn) gets OUT_d.c, OUT_g.c, OUT_gen.c beside OUT.c and a\n"
    "  program training both in alternation; --model NAME trains one model alone\n"
    "export options:\n"
    "  -o OUT.onnx             output file (required); the graph is specialized to\n"
    "                          the bound shapes, --freeze values become initializers\n"
    "  --checkpoint CKPT       write the weights of a trainer's checkpoint (its\n"
    "                          --checkpoint F) instead: MODEL is compiled for training\n"
    "                          with the train options given (nncc train's but --build,\n"
    "                          --module-only), which must give the trainer's state\n"
    "                          table (loss, optimizer, --no-train...); the bytes the\n"
    "                          trainer's --export-onnx writes\n"
    "run options:\n"
    "  --input [NAME=]FILE     input from a TensorProto .pb or a .npy file; without\n"
    "                          NAME=, inputs are taken in the graph's order\n"
    "  --output-dir DIR        write DIR/output_<i>.npy (else print a summary)\n"
    "  --trace DIR             write every computed tensor as DIR/<k>_<tensor>.npy,\n"
    "                          in schedule order, indexed by DIR/trace.tsv\n"
    "  --repeat N              also time N runs after a warm-up: median_ms=<value>\n"
    "  --threads T             OpenMP threads (default: OpenMP's own)\n"
    "  --keep                  keep the build directory and say where it is\n"
    "  environment: CC (default cc), NNCC_CFLAGS (default -O2, plus -mavx2 -mfma\n"
    "               when the CPU has them)\n"
    "\n"
    "  --help, --version\n";

int main(int argc, char **argv) {
  if (argc < 2) {
    fputs(usage, stderr);
    return 1;
  }
  /* `nncc train --help` as well as `nncc --help`: one text covers every command. */
  for (int i = 1; i < argc; i++)
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      fputs(usage, stdout);
      return 0;
    }
  if (strcmp(argv[1], "--version") == 0) {
    printf("nncc %s\n", NNCC_VERSION);
    return 0;
  }
  if (strcmp(argv[1], "info") == 0)
    return cmd_info(argc - 1, argv + 1);
  if (strcmp(argv[1], "run") == 0)
    return cmd_run(argc - 1, argv + 1);
  if (strcmp(argv[1], "export") == 0)
    return cmd_export(argc - 1, argv + 1);
  if (strcmp(argv[1], "train") == 0)
    return cmd_train(argc - 1, argv + 1);
  return cmd_compile(argc, argv);
}
