/* Classifies the Fashion-MNIST test set with the C that nncc generated from
 * cnn.onnx (prefix "cnn"): prints a few predictions and the accuracy.
 * usage: classify IMAGES.idx[.gz] LABELS.idx[.gz] */
#include <stdio.h>
#include <stdlib.h>

#include "cnn.h"
#include "idx.h"

static const char *const class_names[10] = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};

static int argmax(const float *v, int n) {
  int best = 0;
  for (int i = 1; i < n; i++)
    if (v[i] > v[best])
      best = i;
  return best;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s IMAGES LABELS (IDX, optionally gzip'd)\n", argv[0]);
    return 2;
  }
  idx_file images, labels;
  if (idx_load(argv[1], &images) || idx_load(argv[2], &labels))
    return 1;
  if (images.record != 28 * 28 || labels.record != 1 || images.count != labels.count) {
    fprintf(stderr, "%s, %s: want N 28x28 images and N labels\n", argv[1], argv[2]);
    return 1;
  }
  static _Alignas(64) unsigned char arena[CNN_ARENA_BYTES + 1];
  float image[28 * 28], logits[10];
  size_t correct = 0;
  for (size_t i = 0; i < images.count; i++) {
    for (int p = 0; p < 28 * 28; p++)
      image[p] = images.data[i * 28 * 28 + p] / 255.0f;
    cnn_run(image, logits, arena);
    int pred = argmax(logits, 10), truth = labels.data[i];
    if (labels.data[i] > 9) {
      fprintf(stderr, "%s: record %zu: label %d is out of range 0-9\n", argv[2], i, truth);
      return 1;
    }
    correct += pred == truth;
    if (i < 8)
      printf("image %zu: predicted %-12s actual %-12s %s\n", i, class_names[pred],
             class_names[truth], pred == truth ? "ok" : "WRONG");
  }
  printf("accuracy: %.4f (%zu/%zu)\n", (double)correct / images.count, correct, images.count);
  idx_free(&images);
  idx_free(&labels);
  return 0;
}
