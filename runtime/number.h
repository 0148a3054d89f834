/* number.h — the numbers data files and the command line hold (number.c):
 * one rule for what a number is, shared by the CSV reader of training
 * (data_csv.c, and through it csv(..., columns:)) and `nnc --predict
 * --input`'s typed numbers and .csv files, and the f32 range every value
 * read is checked against (npz(...) and --predict's .npy arrays too).
 * Plain C, no compiler headers. */
#ifndef NNC_NUMBER_H
#define NNC_NUMBER_H

#include <stddef.h>

/* Reads text[0, len), the whole of one value (spaces and tabs around it
 * skipped; text[len] a comma, a blank, a line's end or NUL, which end a
 * number): a
 * decimal number, [+-]DIGITS[.DIGITS][(e|E)[+-]DIGITS] with digits on at
 * least one side of the point, that f32 can hold.  Returns NULL with *v
 * set, or why not, worded to follow the text quoted ("'0x10' is not a
 * decimal number"): RT_NOT_A_NUMBER, "is not a decimal number" (strtod's
 * hexadecimal), "is not a finite number" (nan, inf, and their spellings),
 * or rt_f32_unfit's "is beyond the range of f32 (3.4e38)".  A caller may
 * word RT_NOT_A_NUMBER its own way (a header row?), comparing pointers. */
const char *rt_number_read(const char *text, size_t len, double *v);
extern const char RT_NOT_A_NUMBER[];   /* "is not a number" */

/* Why v, read as a double, cannot be an f32 value ("is not a finite
 * number", "is beyond the range of f32 (3.4e38)"), or NULL when it can:
 * converted to f32 it stays finite (numbers below f32's smallest become 0). */
const char *rt_f32_unfit(double v);

/* At most max bytes of text[0, len), as a message quotes a file's text,
 * into buf (RT_QUOTE_CAP(max) bytes): control bytes written as C writes
 * them (\r, \t, \n, \xNN for the others and DEL), so that a CR (a file
 * whose lines end with CR alone) or an escape byte in a file cannot move
 * the terminal's cursor over the message.  Other bytes, UTF-8 too, as they
 * are.  Returns buf. */
#define RT_QUOTE_CAP(max) (4 * (max) + 1)
const char *rt_quote(const char *text, size_t len, size_t max, char *buf);

/* 3 when text[0, len) starts with UTF-8's byte-order mark, which
 * spreadsheets write at the start of a CSV file, else 0: the bytes a
 * reader skips before the first value. */
size_t rt_utf8_bom(const char *text, size_t len);

#endif
