/* bpe.c — a library of a text model on bpe tokens (tests/jit/bpe.nn):
 * subwords_encode and subwords_decode with the merges of a checkpoint nnc
 * --jit saved.  Prints the ids of the sentence below (run.sh compares them
 * with a Python encoder's), then checks: decoding gives the bytes back,
 * a small cap reports the room needed, a saved and reloaded instance
 * encodes the same (loaded from the file and from memory), a fresh
 * instance and a bad id are refused by message.
 * Usage: bpe CHECKPOINT SCRATCH.safetensors */
#include <stdio.h>
#include <string.h>

#include "subwords.h"

static const char sentence[] = "the bird flew on the café.\nthe dog ran";

#define CHECK(cond, ...)                                  \
    do {                                                  \
        if (!(cond)) {                                    \
            printf("FAIL line %d: ", __LINE__);           \
            printf(__VA_ARGS__);                          \
            printf("\n");                                 \
            return 1;                                     \
        }                                                 \
    } while (0)

int main(int argc, char **argv)
{
    if (argc != 3)
        return 2;
    subwords *fresh = subwords_create(1), *m = subwords_create(1), *again = subwords_create(2);
    CHECK(fresh && m && again, "create");
    int32_t ids[64], more[64];
    int64_t len = (int64_t)strlen(sentence);
    CHECK(subwords_encode(fresh, sentence, len, ids, 64) == -1, "a fresh instance encodes");
    CHECK(strcmp(subwords_last_error(fresh),
                 "encode: no bpe merges; load a checkpoint of this model trained with bpe (nnc --jit --save)") == 0,
          "%s", subwords_last_error(fresh));
    CHECK(subwords_load(m, argv[1]) == 0, "load: %s", subwords_last_error(m));
    int64_t n = subwords_encode(m, sentence, len, ids, 64);
    CHECK(n > 0 && n < len, "encode: %lld", (long long)n);
    for (int64_t i = 0; i < n; i++)
        printf("%s%d", i ? " " : "", ids[i]);
    printf("\n");
    char out[128];
    int64_t bytes = subwords_decode(m, ids, n, out, sizeof out);
    CHECK(bytes == len && memcmp(out, sentence, (size_t)len) == 0, "decode: %lld bytes '%.*s'", (long long)bytes,
          (int)(bytes > 0 && bytes < 128 ? bytes : 0), out);
    CHECK(subwords_encode(m, sentence, len, more, 2) == n && more[0] == ids[0] && more[1] == ids[1], "cap 2");
    CHECK(subwords_decode(m, ids, n, out, 3) == len && memcmp(out, sentence, 3) == 0, "decode into 3 bytes");
    int32_t bad[2] = {ids[0], 300};
    CHECK(subwords_decode(m, bad, 2, out, sizeof out) == -1, "a bad id decodes");
    CHECK(strcmp(subwords_last_error(m), "decode: id 1 is 300; ids are in [0, 300)") == 0, "%s",
          subwords_last_error(m));
    CHECK(subwords_save(m, argv[2]) == 0, "save: %s", subwords_last_error(m));
    CHECK(subwords_load(again, argv[2]) == 0, "reload: %s", subwords_last_error(again));
    CHECK(subwords_encode(again, sentence, len, more, 64) == n && memcmp(more, ids, sizeof *ids * (size_t)n) == 0,
          "the reloaded instance encodes differently");
    /* load_memory takes the merges from the bytes' __metadata__ too */
    FILE *f = fopen(argv[2], "rb");
    CHECK(f != NULL, "open %s", argv[2]);
    static char bytes_of[1 << 20];
    size_t size = fread(bytes_of, 1, sizeof bytes_of, f);
    fclose(f);
    CHECK(size > 0 && size < sizeof bytes_of, "%s: %zu bytes", argv[2], size);
    subwords *mem = subwords_create(3);
    CHECK(mem && subwords_load_memory(mem, bytes_of, size) == 0, "load_memory: %s", mem ? subwords_last_error(mem) : "");
    CHECK(subwords_encode(mem, sentence, len, more, 64) == n && memcmp(more, ids, sizeof *ids * (size_t)n) == 0,
          "the instance loaded from memory encodes differently: %s", subwords_last_error(mem));
    subwords_destroy(mem);
    subwords_destroy(fresh);
    subwords_destroy(m);
    subwords_destroy(again);
    printf("encode, decode, save and load agree\n");
    return 0;
}
