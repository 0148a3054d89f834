/* rt_harness.h — helpers for the runtime's CUnit suites.  The runtime is
 * tested on its own: these tests link nncrt and nothing of the compiler. */
#ifndef NNC_RT_HARNESS_H
#define NNC_RT_HARNESS_H

#include <CUnit/CUnit.h>

#include "nnc_runtime.h"

typedef struct RtTestCase { const char *name; void (*fn)(void); } RtTestCase;
void rt_add_suite(const char *name, const RtTestCase *tests);

/* A scratch directory for files the tests write (removed at exit). */
const char *rt_scratch_dir(void);

void register_rt_data(void);
void register_rt_checkpoint(void);
void register_rt_pool(void);
void register_rt_init(void);
void register_rt_json(void);
void register_rt_npy(void);
void register_rt_bpe(void);
void register_rt_pace(void);
void register_rt_dist(void);
void register_rt_memory(void);

#endif
