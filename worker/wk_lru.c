/* wk_lru: an intrusive least-recently-used list (see the header). */
#include "wk_lru.h"

void wk_lru_remove(wk_lru_t *l, wk_lru_link_t *e)
{
        if (e->older)
                e->older->newer = e->newer;
        else
                l->oldest = e->newer;
        if (e->newer)
                e->newer->older = e->older;
        else
                l->newest = e->older;
        e->older = e->newer = NULL;
}

void wk_lru_touch(wk_lru_t *l, wk_lru_link_t *e)
{
        if (l->newest == e)
                return;
        if (e->older || l->oldest == e)
                wk_lru_remove(l, e);
        e->older = l->newest;
        e->newer = NULL;
        if (l->newest)
                l->newest->newer = e;
        else
                l->oldest = e;
        l->newest = e;
}
