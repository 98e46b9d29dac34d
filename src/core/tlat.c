/*
 * tlat: per-group task latency buckets (the mechanism is described in
 * tlat.h). Layout: TLAT_SHARDS shards, each a mutex, a fixed table of chains
 * holding every group's open bucket, and a list of closed buckets waiting for
 * tlat_flush. A bucket is one record (the group name inside it) plus its
 * sample array, which starts small and doubles up to TLAT_EXACT_MAX, so a
 * quiet group costs a few hundred bytes, not 32 KiB.
 *
 * A group exists only while it has an open bucket: when a later window
 * starts, the record moves, whole, from the table to the closed list and a
 * fresh one takes its place; tlat_flush unlinks whatever is due under the
 * lock and does the sorting and the callback after letting go of it.
 */
#include "core/tlat.h"

#include "core/hash.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define TLAT_SLOTS 128     /* chains per shard, power of two: 8192 heads for <= 4096 groups */
#define TLAT_SAMPLES_MIN 8 /* first sample array (doubles); grows by doubling */

typedef struct tlat_bkt {
    struct tlat_bkt *next; /* chain in the shard's table, or the closed list */
    uint64_t hash;         /* of the group name */
    int64_t bucket_ms;
    uint64_t count; /* samples seen: exact */
    double sum, min, max;
    uint64_t rng;         /* xorshift64 state, drawn from only past TLAT_EXACT_MAX */
    uint32_t n_kept, cap; /* samples[0..n_kept) of cap */
    double *samples;      /* exact, then the reservoir */
    size_t glen;          /* strlen(group) */
    char group[HB_ID_MAX + 1];
} tlat_bkt;

typedef struct tlat_shard {
    _Alignas(64) pthread_mutex_t mu; /* own cache line: shards do not share one */
    tlat_bkt *slots[TLAT_SLOTS];     /* open buckets, one per group */
    tlat_bkt *closed;                /* closed buckets waiting for tlat_flush */
} tlat_shard;

struct tlat {
    atomic_size_t open; /* groups with an open bucket, all shards */
    tlat_shard shards[TLAT_SHARDS];
};

/* FNV-1a with a final mix. Unseeded on purpose: the reservoir's seed derives
 * from it, and the same input must give the same rows on every run. (Groups
 * are capped, so piling them into one shard costs contention, not time.) */
static uint64_t hash_name(const char *s, size_t n)
{
    uint64_t h = hash_fnv1a64(s, n, 0);
    h ^= h >> 33; /* the low bits pick the shard, the high ones the chain */
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

static uint64_t xorshift64(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

int64_t tlat_bucket_of(int64_t now_ms)
{
    int64_t q = now_ms / TLAT_BUCKET_MS;
    if (now_ms % TLAT_BUCKET_MS < 0) q--; /* C division truncates; we want floor */
    return q * TLAT_BUCKET_MS;
}

/* A bucket's sample array must hold `more` further samples (as far as the
 * exact part goes). Grows by doubling so a burst of single adds costs
 * O(log) reallocations. 0, or -1 with the bucket unchanged. */
static int bkt_reserve(tlat_bkt *b, size_t more)
{
    size_t need = (size_t)b->n_kept + more;
    if (need > TLAT_EXACT_MAX) need = TLAT_EXACT_MAX;
    if (need <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : TLAT_SAMPLES_MIN;
    while (cap < need)
        cap *= 2;
    if (cap > TLAT_EXACT_MAX) cap = TLAT_EXACT_MAX;
    double *s = realloc(b->samples, cap * sizeof *s);
    if (!s) return -1;
    b->samples = s;
    b->cap = (uint32_t)cap;
    return 0;
}

/* A new, empty bucket with room for `more` samples, or NULL. */
static tlat_bkt *bkt_new(const char *group, size_t glen, uint64_t hash, int64_t bucket_ms,
                         size_t more)
{
    tlat_bkt *b = calloc(1, sizeof *b);
    if (!b) return NULL;
    b->hash = hash;
    b->bucket_ms = bucket_ms;
    b->rng = hash_mix64(hash ^ (uint64_t)bucket_ms); /* a well-spread seed */
    if (!b->rng) b->rng = 0x2545f4914f6cdd1dull;     /* xorshift's one forbidden state */
    b->glen = glen;
    memcpy(b->group, group, glen);
    b->group[glen] = '\0';
    if (bkt_reserve(b, more) != 0) {
        free(b);
        return NULL;
    }
    return b;
}

static void bkt_free(tlat_bkt *b)
{
    free(b->samples);
    free(b);
}

/* Record one sample; room was reserved. Past TLAT_EXACT_MAX this is
 * Algorithm R: the i-th sample (1-based) replaces a uniformly chosen kept
 * one with probability EXACT_MAX / i, which leaves every sample seen equally
 * likely to be kept. The modulo's bias (i / 2^64) is far below noise. */
static void bkt_put(tlat_bkt *b, double ms)
{
    if (b->n_kept < TLAT_EXACT_MAX) {
        b->samples[b->n_kept++] = ms;
    } else {
        uint64_t j = xorshift64(&b->rng) % (b->count + 1);
        if (j < TLAT_EXACT_MAX) b->samples[j] = ms;
    }
    if (b->count == 0 || ms < b->min) b->min = ms;
    if (b->count == 0 || ms > b->max) b->max = ms;
    b->count++;
    b->sum += ms;
}

static bool ms_valid(double ms)
{
    return ms >= 0.0 && ms <= TLAT_MS_MAX; /* false for NaN and infinities too */
}

/* The shared body of tlat_add and tlat_add_many, under the shard's lock:
 * find the group's open bucket, roll it over when bucket is a later window,
 * create it (within the group cap) when absent, then record. Every
 * allocation happens before anything changes, so a failure leaves the
 * shard as it was. */
static int add_locked(tlat *t, tlat_shard *sh, const char *group, size_t glen, uint64_t hash,
                      int64_t bucket, const double *ms, size_t n)
{
    tlat_bkt **pp = &sh->slots[(hash >> 32) & (TLAT_SLOTS - 1)];
    while (*pp &&
           !((*pp)->hash == hash && (*pp)->glen == glen && memcmp((*pp)->group, group, glen) == 0))
        pp = &(*pp)->next;
    tlat_bkt *b = *pp;
    if (!b) {
        if (atomic_fetch_add(&t->open, 1) >= TLAT_GROUPS_MAX) {
            atomic_fetch_sub(&t->open, 1);
            return TLAT_FULL;
        }
        b = bkt_new(group, glen, hash, bucket, n);
        if (!b) {
            atomic_fetch_sub(&t->open, 1);
            return TLAT_NOMEM;
        }
        *pp = b; /* at the chain's end */
    } else if (b->bucket_ms < bucket) {
        /* Its window has passed: queue it closed (whole: flush summarises
         * it) and open the new window in its place. The group count does not
         * change. A sample for an *older* window than b's (clock stepped
         * back) falls through to b: buckets never reopen in the past. */
        tlat_bkt *nb = bkt_new(group, glen, hash, bucket, n);
        if (!nb) return TLAT_NOMEM;
        nb->next = b->next;
        *pp = nb;
        b->next = sh->closed;
        sh->closed = b;
        b = nb;
    } else if (bkt_reserve(b, n) != 0) {
        return TLAT_NOMEM;
    }
    for (size_t i = 0; i < n; i++)
        bkt_put(b, ms[i] + 0.0); /* + 0.0 turns -0.0 into 0.0 */
    return TLAT_OK;
}

int tlat_add_many(tlat *t, const char *group, int64_t now_ms, const double *ms, size_t n)
{
    if (!group) group = "";
    size_t glen = strnlen(group, HB_ID_MAX + 1);
    if (glen > HB_ID_MAX) return TLAT_BAD;
    for (size_t i = 0; i < n; i++)
        if (!ms_valid(ms[i])) return TLAT_BAD;
    if (n == 0) return TLAT_OK;
    uint64_t hash = hash_name(group, glen);
    tlat_shard *sh = &t->shards[hash & (TLAT_SHARDS - 1)];
    int64_t bucket = tlat_bucket_of(now_ms);
    pthread_mutex_lock(&sh->mu);
    int rc = add_locked(t, sh, group, glen, hash, bucket, ms, n);
    pthread_mutex_unlock(&sh->mu);
    return rc;
}

int tlat_add(tlat *t, const char *group, int64_t now_ms, double ms)
{
    return tlat_add_many(t, group, now_ms, &ms, 1);
}

/* Sort order for the percentiles. The values are never NaN (tlat_add
 * refuses them), so < and > give a total order. */
static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Nearest rank of sorted s[0..n): s[ceil(p/100 * n) - 1]. The ceiling is
 * taken in integers, exact for any p: in doubles 0.07 * 100 is
 * 7.000000000000001, one rank too high (for 50/90/95/99 the doubles happen
 * to come out right, which is luck, not a reason). */
static double nearest_rank(const double *s, size_t n, unsigned p)
{
    if (n == 0) return 0.0;
    size_t r = ((size_t)p * n + 99) / 100;
    if (r < 1) r = 1;
    return s[r - 1];
}

void tlat_summarise(double *samples, size_t n_kept, uint64_t count, double sum, double min,
                    double max, tlat_row *out)
{
    out->count = count;
    out->mean_ms = count ? sum / (double)count : 0.0;
    out->min_ms = count ? min : 0.0;
    out->max_ms = count ? max : 0.0;
    if (n_kept > 1) qsort(samples, n_kept, sizeof *samples, cmp_double);
    out->p50_ms = nearest_rank(samples, n_kept, 50);
    out->p90_ms = nearest_rank(samples, n_kept, 90);
    out->p95_ms = nearest_rank(samples, n_kept, 95);
    out->p99_ms = nearest_rank(samples, n_kept, 99);
}

/* Put a list of buckets back on a shard's closed list (the callback said
 * "not now"). */
static void requeue(tlat_shard *sh, tlat_bkt *list)
{
    if (!list) return;
    tlat_bkt *last = list;
    while (last->next)
        last = last->next;
    pthread_mutex_lock(&sh->mu);
    last->next = sh->closed;
    sh->closed = list;
    pthread_mutex_unlock(&sh->mu);
}

/* Summarise and hand over each bucket of `due` (no lock held). Returns rows
 * taken; sets *stop and requeues the rest when cb refuses one. */
static size_t hand_over(tlat_shard *sh, tlat_bkt *due, tlat_row_fn cb, void *ctx, bool *stop)
{
    size_t rows = 0;
    while (due) {
        tlat_bkt *b = due;
        tlat_row row;
        memcpy(row.group, b->group, b->glen + 1);
        row.bucket_ms = b->bucket_ms;
        tlat_summarise(b->samples, b->n_kept, b->count, b->sum, b->min, b->max, &row);
        if (cb(ctx, &row) != 0) {
            requeue(sh, due);
            *stop = true;
            return rows;
        }
        due = b->next;
        bkt_free(b);
        rows++;
    }
    return rows;
}

size_t tlat_flush(tlat *t, int64_t now_ms, bool all, tlat_row_fn cb, void *ctx)
{
    /* bucket_ms + TLAT_BUCKET_MS <= now_ms, for aligned bucket_ms, is
     * bucket_ms < tlat_bucket_of(now_ms), which cannot overflow. */
    int64_t cur = tlat_bucket_of(now_ms);
    size_t rows = 0;
    bool stop = false;
    for (size_t i = 0; i < TLAT_SHARDS && !stop; i++) {
        tlat_shard *sh = &t->shards[i];
        pthread_mutex_lock(&sh->mu);
        tlat_bkt *due = sh->closed;
        sh->closed = NULL;
        for (size_t s = 0; s < TLAT_SLOTS; s++) {
            tlat_bkt **pp = &sh->slots[s];
            while (*pp) {
                tlat_bkt *b = *pp;
                if (all || b->bucket_ms < cur) {
                    *pp = b->next;
                    b->next = due;
                    due = b;
                    atomic_fetch_sub(&t->open, 1);
                } else {
                    pp = &b->next;
                }
            }
        }
        pthread_mutex_unlock(&sh->mu);
        rows += hand_over(sh, due, cb, ctx, &stop);
    }
    return rows;
}

/* Copy one open bucket's figures under the shard lock; summarise outside it. */
typedef struct peek_item {
    tlat_row row;
    double sum, min, max;
    uint64_t count;
    size_t n_kept;
    double *samples;
} peek_item;

static size_t peek_shard(tlat_shard *sh, const char *group, tlat_row_fn cb, void *ctx)
{
    peek_item *items = NULL;
    size_t n = 0, cap = 0, rows = 0;
    pthread_mutex_lock(&sh->mu);
    for (size_t s = 0; s < TLAT_SLOTS; s++)
        for (tlat_bkt *b = sh->slots[s]; b; b = b->next) {
            if (group && strcmp(group, b->group) != 0) continue;
            if (n == cap) {
                size_t nc = cap ? cap * 2 : 8;
                peek_item *ni = realloc(items, nc * sizeof *ni);
                if (!ni) goto unlock; /* a peek is best effort: show what fits */
                items = ni;
                cap = nc;
            }
            peek_item *it = &items[n];
            it->samples = malloc((b->n_kept ? b->n_kept : 1) * sizeof *it->samples);
            if (!it->samples) goto unlock;
            memcpy(it->samples, b->samples, b->n_kept * sizeof *it->samples);
            memcpy(it->row.group, b->group, b->glen + 1);
            it->row.bucket_ms = b->bucket_ms;
            it->n_kept = b->n_kept;
            it->count = b->count;
            it->sum = b->sum;
            it->min = b->min;
            it->max = b->max;
            n++;
        }
unlock:
    pthread_mutex_unlock(&sh->mu);
    for (size_t i = 0; i < n; i++) {
        peek_item *it = &items[i];
        tlat_summarise(it->samples, it->n_kept, it->count, it->sum, it->min, it->max, &it->row);
        if (cb(ctx, &it->row) == 0) rows++;
        free(it->samples);
    }
    free(items);
    return rows;
}

size_t tlat_peek(tlat *t, const char *group, tlat_row_fn cb, void *ctx)
{
    if (group) {
        uint64_t h = hash_name(group, strlen(group));
        return peek_shard(&t->shards[h & (TLAT_SHARDS - 1)], group, cb, ctx);
    }
    size_t rows = 0;
    for (size_t i = 0; i < TLAT_SHARDS; i++)
        rows += peek_shard(&t->shards[i], NULL, cb, ctx);
    return rows;
}

size_t tlat_open_groups(tlat *t)
{
    return atomic_load(&t->open);
}

tlat *tlat_new(void)
{
    /* aligned_alloc, not calloc: the shards' 64-byte alignment must hold. */
    tlat *t = aligned_alloc(_Alignof(tlat), sizeof *t);
    if (!t) return NULL;
    memset(t, 0, sizeof *t);
    atomic_init(&t->open, 0);
    for (size_t i = 0; i < TLAT_SHARDS; i++) {
        if (pthread_mutex_init(&t->shards[i].mu, NULL) != 0) {
            while (i--)
                pthread_mutex_destroy(&t->shards[i].mu);
            free(t);
            return NULL;
        }
    }
    return t;
}

static void free_list(tlat_bkt *b)
{
    while (b) {
        tlat_bkt *next = b->next;
        bkt_free(b);
        b = next;
    }
}

void tlat_free(tlat *t)
{
    if (!t) return;
    for (size_t i = 0; i < TLAT_SHARDS; i++) {
        tlat_shard *sh = &t->shards[i];
        for (size_t s = 0; s < TLAT_SLOTS; s++)
            free_list(sh->slots[s]);
        free_list(sh->closed);
        pthread_mutex_destroy(&sh->mu);
    }
    free(t);
}
