/*
 * hb_vals.h: bench/hb.lua's heartbeat values (its body_for) for the C load
 * generators, so every case sends the same numbers whatever its syntax:
 * hb_rate.c writes them as the JSON body, udp_send.c as a UDP line. The
 * fields hb.lua keeps fixed (ttl_s 15, status ok, the gauges) are in each
 * format's text.
 */
#ifndef VIGIL_BENCH_HB_VALS_H
#define VIGIL_BENCH_HB_VALS_H

#include <stdint.h>

typedef struct hb_vals {
    const char *group;
    uint32_t instance; /* written as 8 hex digits */
    unsigned long seq, requests, tokens, cpu_ticks;
} hb_vals;

/* Worker w on its lap-th heartbeat. Each id keeps one instance (a new one
 * would open a new session); seq and the counters grow once per lap. */
static inline hb_vals hb_vals_for(long w, long lap)
{
    static const char *const groups[] = {"inference", "training", "batch", "eval"};
    hb_vals v = {groups[w % 4],
                 (uint32_t)(((uint64_t)w * 2654435761u + 0x3f2a9c1eu) & 0xffffffffu),
                 (unsigned long)(812 + lap),
                 (unsigned long)(10421 + lap * 7),
                 (unsigned long)(993120 + lap * 911),
                 (unsigned long)(58211 + lap * 3)};
    return v;
}

#endif
