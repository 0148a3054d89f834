/* front.c — parse, then check; see front.h. */
#include "front.h"

#include <string.h>

#include "parse.h"

static NncStatus run(NncFront *f)
{
    if (parse_source(&f->src, &f->arena, &f->diag, &f->prog) != 0)
        return NNC_EINPUT;  /* checking a broken tree would only add noise */
    f->model = sema_check(&f->prog, &f->arena, &f->diag);
    return f->model ? NNC_OK : NNC_EINPUT;
}

NncStatus nnc_front_file(NncFront *f, const char *path, FILE *diag_out, bool color)
{
    memset(f, 0, sizeof *f);
    arena_init(&f->arena);
    char why[256];
    if (source_load(&f->src, &f->arena, path, why, sizeof why) != 0) {
        fprintf(diag_out, "nnc: error: cannot read '%s': %s\n", path, why);
        diag_init(&f->diag, &f->src, diag_out);
        return NNC_EINPUT;
    }
    diag_init(&f->diag, &f->src, diag_out);
    f->diag.color = color;
    return run(f);
}

NncStatus nnc_front_text(NncFront *f, const char *name, const char *text, size_t len, FILE *diag_out)
{
    memset(f, 0, sizeof *f);
    arena_init(&f->arena);
    source_from_memory(&f->src, &f->arena, name, text, len);
    diag_init(&f->diag, &f->src, diag_out);
    return run(f);
}

void nnc_front_free(NncFront *f)
{
    diag_fini(&f->diag);
    arena_free(&f->arena);
}
