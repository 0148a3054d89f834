/* cdesc.h — a compiled model written as C: the runtime's structs as static
 * data, the C that turns generated objects into executables and libraries,
 * and the header of a library's interface. */
#ifndef NNC_CDESC_H
#define NNC_CDESC_H

#include "model.h"

/* The names of a model's generated entries: train, eval, predict, and
 * decode (a trainer of a model with a decode entry; else NULL). */
typedef struct EntryNames { const char *train, *eval, *predict, *decode; } EntryNames;

/* An executable's C: the model, its recipe, main() = rt_exe_main. */
void cdesc_trainer(StrBuf *b, const TrainModel *t, const EntryNames *e, const char *model_dir);
/* A library's C: the model and the typed functions of the embedding ABI;
 * horizon: the steps a learning-rate schedule spans (rt_total_steps). */
void cdesc_library(StrBuf *b, const TrainModel *t, const EntryNames *e, const char *header, int64_t horizon);

/* The library's header (plain C99, C++-safe): every function documented,
 * sizes per example as #defines, the inputs' expected preprocessing. */
void cdesc_header(StrBuf *b, const TrainModel *t, const SemaModel *m, const char *source_name, const char *output,
                  bool shared);

#endif
