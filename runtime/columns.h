/* columns.h — csv(..., columns: "left: 0-3, right: 4-7, same: 8"): which
 * columns of a CSV row feed which input or target (data_columns.c).  The
 * compiler checks a train block's columns with the same parser the trainer
 * reads them with. */
#ifndef NNC_COLUMNS_H
#define NNC_COLUMNS_H

#include <stddef.h>
#include <stdint.h>

#include "include/nnc_runtime.h"

enum { RT_MAX_COLUMN_RANGES = 64 };

/* NAME: FIRST or NAME: FIRST-LAST, columns counted from 0, both included. */
typedef struct RtColumnRange {
    char    name[64];
    int64_t first, last;
    int     at, len;        /* its text in the spec: "NAME: FIRST-LAST" */
} RtColumnRange;

/* Parses spec into out[0, max): the number of ranges, or -1 with why (a
 * name given twice, a range backwards, two ranges sharing a column, text
 * that is not NAME: RANGE) and, when where is not NULL, the bytes of spec
 * it is about in where[0] (offset) and where[1] (length; 0: all of it). */
int rt_columns_parse(const char *spec, RtColumnRange *out, int max, int *where, char *err, size_t errlen);

/* Reads a CSV of numbers (header: skip the first line) and hands each input
 * and target of m the columns spec names for it, as RtDataset columns:
 * reals as they are, labels and ids checked to be whole numbers in range.
 * *width: the values of a row; when above 0 on entry (the training file's,
 * for the test file), the file's rows must have that many, since the spec
 * takes the same positions from both. */
int rt_csv_columns(const char *path, int header, const char *spec, const RtModel *m, int64_t *width, RtDataset *out,
                   char *err, size_t errlen);

#endif
