/* npy.h — NumPy's .npy arrays and .npz archives of them (npy.c, npz.c): the
 * project's one reader of both, used by the npz(...) data source and by
 * `nnc --predict --input x=FILE.npy`.  Plain C, no compiler headers.
 *
 * Every function returns 0, or -1 with a reason in err that does not name
 * the file (callers put the path, and the array, in front of it).
 */
#ifndef NNC_NPY_H
#define NNC_NPY_H

#include <stddef.h>
#include <stdint.h>

enum { RT_NPY_MAX_RANK = 8 };

/* The element types read: little-endian (or byte-sized) numbers. */
typedef enum RtNpyType { RT_NPY_F4, RT_NPY_F8, RT_NPY_U1, RT_NPY_I4, RT_NPY_I8, RT_NPY_B1 } RtNpyType;

/* One parsed array; data points into the buffer it was parsed from. */
typedef struct RtNpy {
    RtNpyType      type;
    size_t         width;              /* bytes per element */
    int            rank;
    int64_t        shape[RT_NPY_MAX_RANK];
    int64_t        count;              /* elements: the product of shape */
    const uint8_t *data;               /* count * width bytes, maybe unaligned */
} RtNpy;

/* Parses a whole .npy file held in buf[0, len): magic, version 1.0, 2.0 or
 * 3.0, a header that is exactly the dict {'descr', 'fortran_order',
 * 'shape'} numpy writes (descr one of <f4 <f8 |u1 <i4 <i8 |b1;
 * fortran_order False), a shape whose product fits, and exactly the data
 * bytes that shape and type take.  integers: the array is for labels or
 * token ids, so a dtype refused suggests only the integer types. */
int         rt_npy_parse(const uint8_t *buf, size_t len, int integers, RtNpy *out, char *err, size_t errlen);
/* The same checks of the header alone, for a .npy of total bytes of which
 * buf[0, len) are the first (at least rt_npy_header_end of them): the data
 * is not read, only its length checked against total (out->data NULL). */
int         rt_npy_parse_header(const uint8_t *buf, size_t len, size_t total, int integers, RtNpy *out, char *err,
                                size_t errlen);
/* The bytes of a .npy up to the end of its header, from its first
 * have bytes (12 tell), or 0 when they are no .npy's start. */
size_t      rt_npy_header_end(const uint8_t *buf, size_t have);
/* Whether a holds examples of the per-example shape[0, rank): its first
 * axis counts them and the rest is that shape (one value per example may
 * also be [n] or [n, 1]).  npz(...)'s rule, and --predict's for a .npy. */
int         rt_npy_holds_examples(const RtNpy *a, const int64_t *shape, int rank);
/* Why a does not hold examples of a kind ("input", "target") called name,
 * of type ("f32[2, 3]", "token(65)[8]", as the model writes it) with per
 * values each, into buf: "has shape [5, 3, 2], but input 'x' is f32[2, 3]:
 * the first axis counts examples, the rest must be [2, 3]".  The caller
 * names the file and the array in front ("x.npz: array 'x' ").  The one
 * wording of npz(...) and of --predict's .npy; RT_NPY_EXAMPLES_MSG bytes
 * hold it for names and types of up to 200 bytes. */
enum { RT_NPY_EXAMPLES_MSG = 1024 };
const char *rt_npy_examples_mismatch(const RtNpy *a, const char *kind, const char *name, const char *type, int64_t per,
                                     char *buf, size_t len);
/* Element i as a double (integers up to 2^53 exactly). */
double      rt_npy_get(const RtNpy *a, int64_t i);
/* "float32", "uint8", ...: the type as numpy names it. */
const char *rt_npy_type_name(RtNpyType t);
/* Whether its values are integers: what labels and token ids are read from
 * (never rounded reals). */
int         rt_npy_is_integer(RtNpyType t);
/* The types read, or (integers) only the integer ones, listed for a
 * message into buf: "uint8, int32, int64 or bool".  RT_NPY_TYPE_LIST
 * bytes hold the whole list. */
enum { RT_NPY_TYPE_LIST = 64 };
const char *rt_npy_type_list(int integers, char *buf, size_t len);
/* Where element i of an array of per values per example stands, as every
 * reader of .npy arrays says it (both from 0): "example 2, element 1", or
 * "example 2" when an example is one value. */
const char *rt_npy_position(int64_t i, int64_t per, char *buf, size_t len);
/* "[3, 2]" into buf. */
const char *rt_npy_shape_str(const RtNpy *a, char *buf, size_t len);

/* A .npz archive (a zip of NAME.npy members, stored or deflated; zip64
 * extra fields understood) held in memory. */
typedef struct RtNpzMember {
    char     name[256];    /* without ".npy" */
    int      npy;          /* its name in the zip ends with ".npy" */
    uint64_t offset;       /* of its local header in the archive */
    uint64_t csize, usize;
    uint32_t crc;
    int      method;       /* 0 stored, 8 deflate */
} RtNpzMember;

typedef struct RtNpz {
    const uint8_t *buf;    /* the archive (not owned) */
    size_t         len;
    RtNpzMember   *m;      /* owned */
    int            n;
} RtNpz;

/* Reads the central directory of the archive buf[0, len): every offset and
 * size is checked against the archive before use. */
int  rt_npz_open(const uint8_t *buf, size_t len, RtNpz *out, char *err, size_t errlen);
/* The member called name (with or without .npy), -1 when there is none,
 * or -2 with why when two members are (a zip may repeat a name, or hold
 * both 'y' and 'y.npy'): which one is meant is not guessed. */
int  rt_npz_find(const RtNpz *z, const char *name, char *err, size_t errlen);
/* Member k, CRC-checked and parsed as a .npy into *out.  A deflated member
 * is inflated into *data (the caller frees it) and out points there; a
 * stored one is read in place (*data NULL, out points into the archive). */
int  rt_npz_read(const RtNpz *z, int k, int integers, uint8_t **data, RtNpy *out, char *err, size_t errlen);
/* Member k's .npy header alone (rt_npy_parse_header): its shape and type,
 * out->data NULL.  The data is not read, so neither its CRC nor (a deflated
 * member) its compression is checked past the header: for a count of
 * examples, which needs no values (rt_npz_count). */
int  rt_npz_read_header(const RtNpz *z, int k, int integers, RtNpy *out, char *err, size_t errlen);
/* "'a', 'b' and 'c'" (the members' names) into buf. */
const char *rt_npz_names(const RtNpz *z, char *buf, size_t len);
void rt_npz_close(RtNpz *z);

struct RtModel;
struct RtDataset;
/* rt_npz_load (nnc_runtime.h) of an archive already in memory, path only
 * naming it in messages. */
int  rt_npz_columns(const uint8_t *buf, size_t len, const char *path, const struct RtModel *m, struct RtDataset *out,
                    char *err, size_t errlen);
/* The examples of the archive at path for m (the first axis of its
 * arrays), from the arrays' headers alone: each of m's inputs and targets
 * there, of a type and per-example shape it takes, all with one count, as
 * rt_npz_load checks them (in its words); no value is read or checked. */
int  rt_npz_count(const char *path, const struct RtModel *m, int64_t *count, char *err, size_t errlen);

#endif
