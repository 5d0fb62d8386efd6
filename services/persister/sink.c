/* sink.c: what every sink shares (sink.h). */
#include "sink.h"

#include <stdlib.h>

void pers_sink_destroy(pers_sink *s) {
    if (s == NULL) return;
    s->ops->destroy(s->impl);
    free(s);
}
