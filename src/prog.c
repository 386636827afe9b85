/* prog.c: allocation of compiled programs. */
#include "prog.h"

#include <stdlib.h>
#include <string.h>

#include "vm_index.h"

Prog *prog_new(void)
{
    Prog *p = xcalloc(1, sizeof *p);
    arena_init(&p->arena);
    p->source_doc = p->source_title = p->reviewer = PIDX_NONE;
    p->f_id = p->f_payer = p->f_service_date = p->f_requested_at = p->f_code = PIDX_NONE;
    p->f_service_at = PIDX_NONE;
    p->eff_from = DATE_OPEN_FROM;
    p->eff_through = DATE_OPEN_THROUGH;
    return p;
}

void prog_free(Prog *p)
{
    if (!p) return;
    vi_delete(atomic_load(&p->vindex));
    arena_free(&p->arena);
    free(p);
}

const char *prog_type_name(unsigned type)
{
    switch (type) {
    case VT_BOOL: return "bool";
    case VT_INT: return "int";
    case VT_MONEY: return "money";
    case VT_STRING: return "string";
    case VT_DATE: return "date";
    case VT_DATETIME: return "datetime";
    case VT_ENUM: return "enum";
    case VT_CODE: return "code";
    case VT_LIST: return "list";
    default: return "?";
    }
}
