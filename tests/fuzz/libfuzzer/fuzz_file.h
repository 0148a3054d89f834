/* fuzz_file.h — the runtime's readers take paths: each input is written to
 * one file (or folder) of a private temporary directory, made once. */
#ifndef NNC_FUZZ_FILE_H
#define NNC_FUZZ_FILE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The temporary directory, created on first use. */
static const char *fuzz_dir(void)
{
    static char dir[64];
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/nnc-fuzz-XXXXXX");
        if (!mkdtemp(dir))
            abort();
    }
    return dir;
}

/* Writes data to NAME in the temporary directory; returns its path. */
static const char *fuzz_write(const char *name, const uint8_t *data, size_t size, char *path, size_t len)
{
    snprintf(path, len, "%s/%s", fuzz_dir(), name);
    FILE *f = fopen(path, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0)
        abort();
    return path;
}

#endif
