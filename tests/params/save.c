/* save.c CHECKPOINT — tests/params/initnet.nn as a library: its parameters
 * as created for seed 7 (the train block's), saved for check_ckpt.py. */
#include <stdio.h>

#include "initnet.h"

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    initnet *m = initnet_create(7);
    if (!m || initnet_save(m, argv[1]) != 0) {
        printf("FAIL: %s\n", m ? initnet_last_error(m) : "initnet_create");
        return 1;
    }
    initnet_destroy(m);
    return 0;
}
