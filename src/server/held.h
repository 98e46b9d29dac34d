/*
 * held: GET /v1/connect/{worker_id}, a held connection whose drop makes its
 * worker suspect at once (mechanism in held.c). The route and the
 * request-completed hook are declared in http.h.
 */
#ifndef VIGIL_HELD_H
#define VIGIL_HELD_H

#include "server/app.h"

#include <stddef.h>
#include <stdint.h>

held *held_new(app *a);
int held_start(held *h, char *err, size_t errlen);
/* Before http_stop: ends every held response; their ends are not drops. */
void held_stop(held *h);
/* After http_stop. */
void held_free(held *h);
/* Connections open now, and drops reported since start. */
void held_get_stats(held *h, size_t *open, uint64_t *drops);

#endif
