/* The OpenBLAS side of bench/gemm-cpu.mjs: times cblas_sgemm (row-major, no transposes) on the
 * shapes given as "M,N,K" arguments and prints one JSON line per shape. Inputs are uniform in
 * [-1, 1), like ours; the time is the median of repeated calls after one warm-up call. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return (x > y) - (x < y);
}

int main(int argc, char** argv) {
  for (int s = 1; s < argc; ++s) {
    long m, n, k;
    if (sscanf(argv[s], "%ld,%ld,%ld", &m, &n, &k) != 3) return 2;
    float* a = malloc(sizeof(float) * m * k);
    float* b = malloc(sizeof(float) * k * n);
    float* c = malloc(sizeof(float) * m * n);
    unsigned x = 12345;
    for (long i = 0; i < m * k; ++i) a[i] = (x = x * 1664525u + 1013904223u) / 2147483648.0f - 1.0f;
    for (long i = 0; i < k * n; ++i) b[i] = (x = x * 1664525u + 1013904223u) / 2147483648.0f - 1.0f;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f, a, k, b, n, 0.0f, c, n);
    double times[64];
    int reps = 0;
    double start = now();
    while (reps < 64 && (reps < 3 || now() - start < 1.5)) {
      double t0 = now();
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f, a, k, b, n, 0.0f, c, n);
      times[reps++] = now() - t0;
    }
    qsort(times, reps, sizeof(double), cmp);
    printf("{\"m\":%ld,\"n\":%ld,\"k\":%ld,\"seconds\":%.9f,\"reps\":%d}\n", m, n, k, times[reps / 2], reps);
    fflush(stdout);
    free(a);
    free(b);
    free(c);
  }
  return 0;
}
