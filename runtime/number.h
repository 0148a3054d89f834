/* number.h — the numbers data files and the command line hold (number.c):
 * the f32 range every value read is checked against, by the CSV and npz
 * readers of training (data_csv.c, data_npz.c) and by `nnc --predict
 * --input`'s numbers, .csv and .npy files.  Plain C, no compiler headers. */
#ifndef NNC_NUMBER_H
#define NNC_NUMBER_H

/* Why v, read as a double, cannot be an f32 value ("is not a finite
 * number", "is beyond the range of f32 (3.4e38)"), or NULL when it can:
 * converted to f32 it stays finite (numbers below f32's smallest become 0). */
const char *rt_f32_unfit(double v);

#endif
