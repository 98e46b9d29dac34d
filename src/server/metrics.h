/*
 * metrics: GET /metrics, vigild's own counters and gauges in the Prometheus
 * text exposition format 0.0.4 (metrics.c; route_metrics is declared in
 * http.h with the other routes; every metric is listed in docs/api.md).
 *
 * Every figure is read at scrape time from where it already lives (app
 * counters, the write queue's, the stream's and the alert engine's stats,
 * the registry's groups), so /metrics adds no work to the paths it watches.
 * The one thing kept only for it is ingest refusals by reason, counted by
 * metrics_reject into app.ingest_rejects, a fixed table of atomics.
 */
#ifndef VIGIL_METRICS_H
#define VIGIL_METRICS_H

#include "server/app.h"

/* Count one refused ingest message: hb_rejected and the slot of the
 * answer's error field ("worker_id", "cpu", "json", "authorization", …).
 * A field outside the table counts in hb_rejected only, and so shows as
 * reason "other", like refusals counted elsewhere. Any thread, lock-free. */
void metrics_reject(app *a, const char *field);

#endif
