/*
 * Unit tests for the notifier (notify.h): queue bounds, retry with backoff,
 * giving up, per-sink order, bounded stop, and --test-sink. Deliveries go over
 * real HTTP to a tiny receiver thread on a loopback port; backoff is shrunk to
 * milliseconds, so the only waits are those round trips.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/sha256.h"
#include "server/notify.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define RX_MAX 16         /* requests one receiver records */
#define RX_BODY_MAX 16384 /* bytes of a recorded body */
#define RX_IO_MS 2000     /* a stuck client is dropped after this */

/* ---- loopback HTTP receiver: answers statuses[i] to request i (then 200) ---- */

typedef struct rx {
    int fd, port;
    pthread_t th;
    atomic_bool stop;
    int statuses[RX_MAX];
    pthread_mutex_t mu;
    int n;
    char body[RX_MAX][RX_BODY_MAX];
    char sig[RX_MAX][96];
} rx;

/* Read until the headers and Content-Length bytes of body are in, or fail. */
static int rx_read(int c, char *buf, size_t cap, char **body, size_t *blen)
{
    size_t have = 0;
    for (;;) {
        struct pollfd p = {.fd = c, .events = POLLIN};
        if (poll(&p, 1, RX_IO_MS) <= 0) return -1;
        ssize_t r = read(c, buf + have, cap - 1 - have);
        if (r <= 0) return -1;
        have += (size_t)r;
        buf[have] = '\0';
        char *end = strstr(buf, "\r\n\r\n");
        if (!end) continue;
        char *cl = strcasestr(buf, "\r\nContent-Length:");
        size_t want = cl ? strtoul(cl + 17, NULL, 10) : 0;
        if (have - (size_t)(end + 4 - buf) >= want) {
            *body = end + 4;
            *blen = want;
            return 0;
        }
        if (have >= cap - 1) return -1;
    }
}

static void *rx_run(void *arg)
{
    rx *x = arg;
    static _Thread_local char buf[RX_BODY_MAX + 4096];
    while (!atomic_load(&x->stop)) {
        struct pollfd p = {.fd = x->fd, .events = POLLIN};
        if (poll(&p, 1, 20) <= 0) continue;
        int c = accept(x->fd, NULL, NULL);
        if (c < 0) continue;
        char *body;
        size_t blen;
        if (rx_read(c, buf, sizeof buf, &body, &blen) == 0) {
            pthread_mutex_lock(&x->mu);
            int i = x->n < RX_MAX ? x->n : RX_MAX - 1,
                status = x->statuses[i] ? x->statuses[i] : 200;
            snprintf(x->body[i], RX_BODY_MAX, "%.*s", (int)blen, body);
            char *s = strcasestr(buf, "\r\nX-Vigil-Signature: ");
            snprintf(x->sig[i], sizeof x->sig[i], "%.*s", s ? (int)strcspn(s + 21, "\r") : 0,
                     s ? s + 21 : "");
            x->n++;
            pthread_mutex_unlock(&x->mu);
            char resp[128];
            int len = snprintf(
                resp, sizeof resp,
                "HTTP/1.1 %d X\r\nContent-Length: 4\r\nConnection: close\r\n\r\nnope", status);
            if (write(c, resp, (size_t)len) < 0) { /* the client gave up: fine */
            }
        }
        close(c);
    }
    return NULL;
}

static rx *rx_start(const int *statuses, int n)
{
    rx *x = calloc(1, sizeof *x);
    assert_non_null(x);
    if (n) memcpy(x->statuses, statuses, (size_t)n * sizeof *statuses);
    pthread_mutex_init(&x->mu, NULL);
    x->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    assert_int_equal(bind(x->fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(x->fd, 16), 0);
    getsockname(x->fd, (struct sockaddr *)&a, &al);
    x->port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(&x->th, NULL, rx_run, x), 0);
    return x;
}

static int rx_count(rx *x)
{
    pthread_mutex_lock(&x->mu);
    int n = x->n;
    pthread_mutex_unlock(&x->mu);
    return n;
}

static void rx_stop(rx *x)
{
    atomic_store(&x->stop, true);
    pthread_join(x->th, NULL);
    close(x->fd);
    pthread_mutex_destroy(&x->mu);
    free(x);
}

/* ---- fixtures ---- */

static sink_cfg hook(const char *name, int port, const char *secret)
{
    sink_cfg s;
    char err[256], url[64];
    assert_int_equal(sink_cfg_init(&s, name, err, sizeof err), 0);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/hook", port);
    assert_int_equal(sink_cfg_set(&s, "type", "webhook", err, sizeof err), 0);
    assert_int_equal(sink_cfg_set(&s, "url", url, err, sizeof err), 0);
    assert_int_equal(sink_cfg_set(&s, "timeout", "2s", err, sizeof err), 0);
    if (secret) assert_int_equal(sink_cfg_set(&s, "secret", secret, err, sizeof err), 0);
    assert_int_equal(sink_cfg_check(&s, err, sizeof err), 0);
    return s;
}

static notice note(notice_state st, const char *key, const char *sink1, const char *sink2)
{
    notice n;
    notify_example(&n, sink1, 1795426800123LL);
    n.state = st;
    snprintf(n.key, sizeof n.key, "%s", key);
    if (sink2) snprintf(n.sinks[n.nsinks++], sizeof n.sinks[0], "%s", sink2);
    return n;
}

static notify_opts fast(void)
{
    notify_opts o;
    notify_opts_default(&o);
    o.backoff_base_ms = 5;
    o.backoff_max_ms = 20;
    o.drain_ms = 5000;
    return o;
}

static notify_stats stats(notify *nf, const char *name)
{
    notify_stats s;
    assert_int_equal(notify_stats_get(nf, name, &s), 0);
    return s;
}

/* ---- tests ---- */

static void test_queue_full_drops(void **state)
{
    (void)state;
    rx *x = rx_start(NULL, 0);
    sink_cfg s = hook("hook", x->port, NULL);
    notify_opts o = fast();
    o.queue_max = 2;
    notify *nf = notify_new(&s, 1, &o);
    /* Before the thread runs nothing drains, so the third push finds it full. */
    notice n = note(NOTICE_FIRING, "k1", "hook", NULL);
    assert_int_equal(notify_push(nf, &n), 1);
    assert_int_equal(notify_push(nf, &n), 1);
    assert_int_equal(notify_push(nf, &n), 0);
    assert_int_equal(stats(nf, "hook").dropped, 1);
    char err[128];
    assert_int_equal(notify_start(nf, err, sizeof err), 0);
    notify_stop(nf);
    notify_stats st = stats(nf, "hook");
    assert_int_equal(st.sent, 2);
    assert_int_equal(st.failed, 0);
    assert_int_equal(st.dropped, 1);
    assert_int_equal(rx_count(x), 2);
    assert_int_equal(notify_push(nf, &n), 0); /* stopped: refused, counted */
    assert_int_equal(stats(nf, "hook").dropped, 2);
    notify_free(nf);
    rx_stop(x);
}

static void test_retry_then_success_signed(void **state)
{
    (void)state;
    rx *x = rx_start((int[]){503, 500}, 2);
    sink_cfg s = hook("hook", x->port, "s3cret");
    notify_opts o = fast();
    notify *nf = notify_new(&s, 1, &o);
    char err[128];
    assert_int_equal(notify_start(nf, err, sizeof err), 0);
    notice n = note(NOTICE_FIRING, "k1", "hook", NULL);
    assert_int_equal(notify_push(nf, &n), 1);
    notify_stop(nf);
    notify_stats st = stats(nf, "hook");
    assert_int_equal(st.sent, 1);
    assert_int_equal(st.failed, 2);
    assert_int_equal(st.given_up, 0);
    assert_int_equal(st.dropped, 0);
    assert_int_equal(rx_count(x), 3);
    /* Every attempt carried the same body, signed over exactly those bytes. */
    for (int i = 0; i < 3; i++) {
        assert_string_equal(x->body[i], x->body[0]);
        char want[96];
        sink_fmt_signature("s3cret", x->body[i], strlen(x->body[i]), want);
        assert_string_equal(x->sig[i], want);
    }
    assert_non_null(strstr(x->body[0], "\"schema_version\":1,\"state\":\"firing\""));
    notify_free(nf);
    rx_stop(x);
}

static void test_give_up(void **state)
{
    (void)state;
    rx *x = rx_start((int[]){500, 500, 500, 500, 500}, 5);
    /* A second sink on a port nobody listens on: connection refused. */
    rx *gone = rx_start(NULL, 0);
    int dead_port = gone->port;
    rx_stop(gone);
    sink_cfg s[2] = {hook("busy", x->port, NULL), hook("dead", dead_port, NULL)};
    notify_opts o = fast();
    o.max_attempts = 3;
    notify *nf = notify_new(s, 2, &o);
    char err[128];
    assert_int_equal(notify_start(nf, err, sizeof err), 0);
    notice n = note(NOTICE_FIRING, "k1", "busy", "dead");
    assert_int_equal(notify_push(nf, &n), 2);
    notify_stop(nf);
    for (int i = 0; i < 2; i++) {
        notify_stats st = stats(nf, s[i].name);
        assert_int_equal(st.sent, 0);
        assert_int_equal(st.failed, 3);
        assert_int_equal(st.given_up, 1);
        assert_int_equal(st.dropped, 0);
    }
    assert_int_equal(rx_count(x), 3);
    notify_free(nf);
    rx_stop(x);
}

/* A failing first delivery holds its sink's later ones back (a resolved must
 * not overtake its firing) but not the other sink's. */
static void test_order_per_sink(void **state)
{
    (void)state;
    rx *a = rx_start((int[]){500, 500}, 2), *b = rx_start(NULL, 0);
    sink_cfg s[2] = {hook("a", a->port, NULL), hook("b", b->port, NULL)};
    notify_opts o = fast();
    notify *nf = notify_new(s, 2, &o);
    notice f = note(NOTICE_FIRING, "k1", "a", "b"), r = note(NOTICE_RESOLVED, "k1", "a", "b");
    assert_int_equal(notify_push(nf, &f), 2);
    assert_int_equal(notify_push(nf, &r), 2);
    char err[128];
    assert_int_equal(notify_start(nf, err, sizeof err), 0);
    notify_stop(nf);
    assert_int_equal(rx_count(a), 4);
    assert_int_equal(rx_count(b), 2);
    for (int i = 0; i < 3; i++)
        assert_non_null(strstr(a->body[i], "\"state\":\"firing\""));
    assert_non_null(strstr(a->body[3], "\"state\":\"resolved\""));
    assert_non_null(strstr(b->body[0], "\"state\":\"firing\""));
    assert_non_null(strstr(b->body[1], "\"state\":\"resolved\""));
    assert_int_equal(stats(nf, "a").sent, 2);
    assert_int_equal(stats(nf, "a").failed, 2);
    assert_int_equal(stats(nf, "b").sent, 2);
    notify_free(nf);
    rx_stop(a);
    rx_stop(b);
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A delivery in a long backoff does not hold notify_stop past drain_ms; it is
 * counted as dropped. */
static void test_stop_bounded(void **state)
{
    (void)state;
    rx *x = rx_start((int[]){500}, 1);
    sink_cfg s = hook("hook", x->port, NULL);
    notify_opts o = fast();
    o.backoff_base_ms = o.backoff_max_ms = 60000;
    o.drain_ms = 150;
    notify *nf = notify_new(&s, 1, &o);
    notice n = note(NOTICE_FIRING, "k1", "hook", NULL);
    assert_int_equal(notify_push(nf, &n), 1);
    char err[128];
    assert_int_equal(notify_start(nf, err, sizeof err), 0);
    int64_t t0 = mono_ms();
    notify_stop(nf);
    int64_t took = mono_ms() - t0;
    assert_true(took < 2000);
    notify_stats st = stats(nf, "hook");
    assert_int_equal(st.failed, 1);
    assert_int_equal(st.sent, 0);
    assert_int_equal(st.dropped, 1);
    notify_free(nf);
    rx_stop(x);
}

static void test_unrouted(void **state)
{
    (void)state;
    sink_cfg s = hook("hook", 9, NULL);
    notify *nf = notify_new(&s, 1, NULL);
    notice n = note(NOTICE_FIRING, "k1", "nope", NULL);
    assert_int_equal(notify_push(nf, &n), 0);
    assert_int_equal(notify_unrouted(nf), 1);
    notify_stats st;
    assert_int_equal(notify_stats_get(nf, "nope", &st), -1);
    notify_free(nf); /* never started: frees without a thread */
}

static void test_test_sink(void **state)
{
    (void)state;
    rx *x = rx_start((int[]){200, 503}, 2);
    sink_cfg s = hook("hook", x->port, NULL);
    char err[256] = "";
    assert_int_equal(notify_test_sink(&s, err, sizeof err), 0);
    assert_non_null(strstr(x->body[0], "\"state\":\"firing\""));
    assert_non_null(strstr(x->body[0], "\"type\":\"test\""));
    assert_int_equal(notify_test_sink(&s, err, sizeof err), -1);
    if (!strstr(err, "HTTP 503 from http://127.0.0.1:")) fail_msg("err: %s", err);
    rx_stop(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_queue_full_drops), cmocka_unit_test(test_retry_then_success_signed),
        cmocka_unit_test(test_give_up),          cmocka_unit_test(test_order_per_sink),
        cmocka_unit_test(test_stop_bounded),     cmocka_unit_test(test_unrouted),
        cmocka_unit_test(test_test_sink),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
