/* fuzz_file.h — the runtime's readers take paths: each input is written to
 * one file (or folder) of a private temporary directory, made once. */
#ifndef NNC_FUZZ_FILE_H
#define NNC_FUZZ_FILE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <unistd.h>

static char fuzz_dir_path[64];

/* Removes the directory and what the last input left in it (at exit: a
 * campaign's runs would otherwise leave one per process in RAM). */
static void fuzz_dir_remove(void)
{
    DIR *d = opendir(fuzz_dir_path);
    struct dirent *e;
    char path[512];
    while (d && (e = readdir(d)))
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            snprintf(path, sizeof path, "%s/%s", fuzz_dir_path, e->d_name);
            remove(path);
        }
    if (d)
        closedir(d);
    rmdir(fuzz_dir_path);
}

/* The temporary directory, created on first use: in /dev/shm when there is
 * one (a file written and read per input on a disk's /tmp made the readers'
 * runs wait on block I/O: 190 inputs a second for CSV), else in /tmp. */
static const char *fuzz_dir(void)
{
    char *dir = fuzz_dir_path;
    if (!dir[0]) {
        int shm = access("/dev/shm", W_OK) == 0;
        snprintf(dir, sizeof fuzz_dir_path, "%s/nnc-fuzz-XXXXXX", shm ? "/dev/shm" : "/tmp");
        if (!mkdtemp(dir))
            abort();
        atexit(fuzz_dir_remove);
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
