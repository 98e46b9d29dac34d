/*
 * fuzz.h: what the libFuzzer targets (tests/fuzz/fuzz_*.c) share: an
 * invariant check that aborts (libFuzzer then saves the input as a crash),
 * and the checks every parsed hb_msg must pass, whichever door it came
 * through:
 *   - the contract's rules hold (ids, text, ranges, the jobs buffer), and
 *   - hb_write_json of it parses back, through the matching parser, to an
 *     equal message (hb.h promises the writer is the parser's inverse).
 * Header-only so each target stays one .c file; it links the real code.
 */
#ifndef VIGIL_FUZZ_H
#define VIGIL_FUZZ_H

#include "core/hb.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "invariant failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__);          \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* Equal as messages: the same fields present, with the same values (jobs
 * compared by their meaningful bytes only; hb_msg has padding, so no memcmp). */
static inline int fuzz_hb_equal(const hb_msg *a, const hb_msg *b)
{
#define EQ(f) (a->f == b->f)
    if (!EQ(has) || !EQ(kind) || strcmp(a->worker_id, b->worker_id) != 0) return 0;
    uint32_t h = a->has;
    if ((h & HB_HAS_GROUP) && strcmp(a->group, b->group) != 0) return 0;
    if ((h & HB_HAS_INSTANCE) && strcmp(a->instance, b->instance) != 0) return 0;
    if ((h & HB_HAS_STATUS) && strcmp(a->status, b->status) != 0) return 0;
    if ((h & HB_HAS_SEQ) && !EQ(seq)) return 0;
    if ((h & HB_HAS_TTL) && !EQ(ttl_s)) return 0;
    if ((h & HB_HAS_EXIT_CODE) && !EQ(exit_code)) return 0;
    if ((h & HB_HAS_THERMAL) && !EQ(thermal)) return 0;
    if ((h & HB_HAS_CPU) && !EQ(cpu)) return 0;
    if ((h & HB_HAS_MEM) && !EQ(mem)) return 0;
    if ((h & HB_HAS_MEM_AVAIL) && !EQ(mem_available_gb)) return 0;
    if ((h & HB_HAS_GPU_MEM) && !EQ(gpu_mem_active_gb)) return 0;
    if ((h & HB_HAS_TASK_MS) && !EQ(task_ms)) return 0;
    if ((h & HB_HAS_BACKLOG) && !EQ(backlog)) return 0;
    if ((h & HB_HAS_CAPACITY) && !EQ(capacity)) return 0;
    if ((h & HB_HAS_IN_FLIGHT) && !EQ(in_flight)) return 0;
    if ((h & HB_HAS_REQUESTS) && !EQ(requests)) return 0;
    if ((h & HB_HAS_TOKENS) && !EQ(tokens)) return 0;
    if ((h & HB_HAS_CPU_TICKS) && !EQ(cpu_ticks)) return 0;
    if (h & HB_HAS_JOBS) {
        if (!EQ(njobs) || !EQ(jobs_len) || memcmp(a->jobs, b->jobs, a->jobs_len) != 0) return 0;
    }
#undef EQ
    return 1;
}

/* The rules of hb.h, on a message a parser accepted. */
static inline void fuzz_hb_valid(const hb_msg *m)
{
    FUZZ_CHECK(hb_id_valid(m->worker_id, strlen(m->worker_id)));
    FUZZ_CHECK(m->kind <= HB_BYE);
    uint32_t h = m->has;
    if (h & HB_HAS_GROUP) FUZZ_CHECK(hb_id_valid(m->group, strlen(m->group)));
    if (h & HB_HAS_INSTANCE) {
        size_t n = strlen(m->instance);
        FUZZ_CHECK(n >= 1 && n <= HB_INSTANCE_MAX && hb_text_valid(m->instance, n));
    }
    if (h & HB_HAS_STATUS) {
        size_t n = strlen(m->status);
        FUZZ_CHECK(n <= HB_STATUS_MAX && hb_text_valid(m->status, n));
    }
    if (h & HB_HAS_SEQ) FUZZ_CHECK(m->seq >= 0);
    if (h & HB_HAS_TTL) FUZZ_CHECK(m->ttl_s >= HB_TTL_MIN_S && m->ttl_s <= HB_TTL_MAX_S);
    if (h & HB_HAS_CPU) FUZZ_CHECK(m->cpu >= 0 && m->cpu <= 1);
    if (h & HB_HAS_MEM) FUZZ_CHECK(m->mem >= 0 && m->mem <= 1);
    if (h & HB_HAS_MEM_AVAIL)
        FUZZ_CHECK(m->mem_available_gb >= 0 && m->mem_available_gb <= HB_GB_MAX);
    if (h & HB_HAS_GPU_MEM)
        FUZZ_CHECK(m->gpu_mem_active_gb >= 0 && m->gpu_mem_active_gb <= HB_GB_MAX);
    if (h & HB_HAS_TASK_MS) FUZZ_CHECK(m->task_ms >= 0 && m->task_ms <= HB_TASK_MS_MAX);
    if (h & HB_HAS_THERMAL)
        FUZZ_CHECK(m->thermal >= HB_THERMAL_NOMINAL && m->thermal <= HB_THERMAL_CRITICAL);
    const int64_t *ctr[] = {&m->backlog,  &m->capacity, &m->in_flight,
                            &m->requests, &m->tokens,   &m->cpu_ticks};
    for (int i = 0; i < 6; i++)
        if (h & (HB_HAS_BACKLOG << i)) FUZZ_CHECK(*ctr[i] >= 0 && *ctr[i] <= HB_COUNTER_MAX);
    if (h & HB_HAS_JOBS) {
        FUZZ_CHECK(m->njobs <= HB_JOBS_MAX && m->jobs_len <= HB_JOBS_BYTES);
        FUZZ_CHECK(strlen(m->jobs) == m->jobs_len);
        FUZZ_CHECK((m->njobs == 0) == (m->jobs_len == 0));
        size_t ids = m->jobs_len ? 1 : 0;
        for (size_t i = 0; i < m->jobs_len; i++)
            ids += m->jobs[i] == '\n';
        FUZZ_CHECK(ids == m->njobs);
        FUZZ_CHECK(hb_text_valid(m->jobs, m->jobs_len) || memchr(m->jobs, '\n', m->jobs_len));
    }
}

/* Valid, and survives hb_write_json -> hb_parse_* unchanged. A ping's
 * HB_START has no wire form of its own (the endpoint carries it), so it is
 * compared as the beat it is written as. */
static inline void fuzz_hb_check(const hb_msg *m)
{
    fuzz_hb_valid(m);
    static char buf[2 * HB_BODY_MAX];
    size_t n = hb_write_json(m, buf, sizeof buf);
    FUZZ_CHECK(n > 0 && n < sizeof buf && buf[n] == '\0');
    static hb_msg back, want;
    hb_err e;
    int rc =
        m->kind == HB_BYE ? hb_parse_bye(buf, n, &back, &e) : hb_parse_heartbeat(buf, n, &back, &e);
    if (rc != 0) fprintf(stderr, "re-parse of %s failed: %s: %s\n", buf, e.field, e.reason);
    FUZZ_CHECK(rc == 0);
    memcpy(&want, m, offsetof(hb_msg, jobs) + m->jobs_len + 1);
    if (want.kind == HB_START) want.kind = HB_BEAT;
    FUZZ_CHECK(fuzz_hb_equal(&want, &back));
}

#endif
