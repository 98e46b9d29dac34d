/*
 * sink: one delivery attempt per call, with libcurl. Each sink keeps one easy
 * handle (sink_conn); curl_easy_reset between attempts clears the options but
 * keeps the handle's connection cache, so a webhook's keep-alive connection
 * and an SMTP session are reused from one notice to the next.
 *
 * Protocols are pinned per kind (http/https, smtp/smtps) and redirects are not
 * followed: a sink URL that answers 3xx is misconfigured, and following it
 * would carry the body (and the signature) somewhere nobody configured.
 *
 * SMTP: smtp:// upgrades with STARTTLS when the server offers it
 * (CURLUSESSL_TRY), which is what a loopback test server or a LAN relay
 * without TLS needs. With credentials on a non-loopback host TLS is
 * required (CURLUSESSL_ALL): a password never crosses a network in clear.
 */
#include "server/sink.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#ifndef VIGIL_VERSION
#define VIGIL_VERSION "dev"
#endif

struct sink_conn {
    CURL *h;
    char errbuf[CURL_ERROR_SIZE];
    char resp[SINK_ERR_BODY_SHOWN + 1]; /* the start of the answer, for errors */
    size_t nresp;
    const char *up; /* SMTP upload: the message */
    size_t uplen, upoff;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_OK;
static void curl_init(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

sink_conn *sink_conn_new(void)
{
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK) return NULL;
    sink_conn *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->h = curl_easy_init();
    if (!c->h) {
        free(c);
        return NULL;
    }
    return c;
}

void sink_conn_free(sink_conn *c)
{
    if (!c) return;
    curl_easy_cleanup(c->h);
    free(c);
}

static size_t on_body(char *p, size_t size, size_t n, void *user)
{
    sink_conn *c = user;
    size_t len = size * n, room = SINK_ERR_BODY_SHOWN - c->nresp;
    size_t take = len < room ? len : room;
    memcpy(c->resp + c->nresp, p, take);
    c->nresp += take;
    c->resp[c->nresp] = '\0';
    return len;
}

static size_t on_read(char *p, size_t size, size_t n, void *user)
{
    sink_conn *c = user;
    size_t room = size * n, left = c->uplen - c->upoff;
    size_t take = left < room ? left : room;
    memcpy(p, c->up + c->upoff, take);
    c->upoff += take;
    return take;
}

/* "Name <a@b>" -> "<a@b>"; "a@b" -> "<a@b>" (the SMTP envelope form). */
static void envelope(const char *addr, size_t len, char *out, size_t outlen)
{
    const char *lt = memchr(addr, '<', len),
               *gt = lt ? memchr(lt, '>', len - (size_t)(lt - addr)) : NULL;
    if (lt && gt) {
        addr = lt + 1;
        len = (size_t)(gt - lt - 1);
    }
    while (len && *addr == ' ')
        addr++, len--;
    while (len && addr[len - 1] == ' ')
        len--;
    snprintf(out, outlen, "<%.*s>", (int)len, addr);
}

/* The URL's host is 127.0.0.0/8, ::1 or localhost. */
static bool loopback_url(const char *url)
{
    const char *h = strstr(url, "://");
    if (!h) return false;
    h += 3;
    if (strncmp(h, "[::1]", 5) == 0) return true;
    size_t n = strcspn(h, ":/?");
    return (n == 9 && strncasecmp(h, "localhost", 9) == 0) || strncmp(h, "127.", 4) == 0;
}

static void common_opts(sink_conn *c, const sink_cfg *s, const char *protocols)
{
    CURL *h = c->h;
    curl_easy_reset(h); /* options only: the connection cache survives */
    c->nresp = 0;
    c->resp[0] = c->errbuf[0] = '\0';
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L); /* timeouts without SIGALRM: we are threaded */
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->errbuf);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, protocols);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)s->timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)s->timeout_ms);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, c);
}

static int transfer_error(sink_conn *c, CURLcode rc, char *err, size_t errlen)
{
    long code = 0;
    curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &code);
    /* libcurl's error buffer, when filled, says more than curl_easy_strerror. */
    snprintf(err, errlen, "%s", *c->errbuf ? c->errbuf : curl_easy_strerror(rc));
    if (code) {
        size_t n = strlen(err);
        snprintf(err + n, errlen > n ? errlen - n : 0, " (server said %ld)", code);
    }
    return -1;
}

static int post_json(sink_conn *c, const sink_cfg *s, const char *url, const char *body, char *err,
                     size_t errlen)
{
    common_opts(c, s, "http,https");
    struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
    hdr = curl_slist_append(hdr, "Expect:"); /* no 100-continue round trip */
    char sig[96];
    if (s->kind == SINK_WEBHOOK && *s->secret) {
        char line[sizeof sig + 32];
        snprintf(line, sizeof line, "X-Vigil-Signature: %s",
                 sink_fmt_signature(s->secret, body, strlen(body), sig));
        hdr = curl_slist_append(hdr, line);
    }
    if (!hdr) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    curl_easy_setopt(c->h, CURLOPT_URL, url);
    curl_easy_setopt(c->h, CURLOPT_USERAGENT, "vigil/" VIGIL_VERSION);
    curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c->h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    CURLcode rc = curl_easy_perform(c->h);
    curl_slist_free_all(hdr);
    if (rc != CURLE_OK) return transfer_error(c, rc, err, errlen);
    long code = 0;
    curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &code);
    if (code >= 200 && code < 300) return 0;
    for (char *p = c->resp; *p; p++) /* one log line */
        if ((unsigned char)*p < 0x20) *p = ' ';
    snprintf(err, errlen, "HTTP %ld from %s%s%s", code, url, *c->resp ? ": " : "", c->resp);
    return -1;
}

static int send_mail(sink_conn *c, const sink_cfg *s, const notice *n, char *err, size_t errlen)
{
    char *msg = sink_fmt_email(n, s->from, s->to, s->dashboard_url);
    if (!msg) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    common_opts(c, s, "smtp,smtps");
    char from[SINK_STR_MAX + 2], rcpt[SINK_STR_MAX + 2];
    envelope(s->from, strlen(s->from), from, sizeof from);
    struct curl_slist *to = NULL;
    for (const char *p = s->to; p;) {
        const char *comma = strchr(p, ',');
        envelope(p, comma ? (size_t)(comma - p) : strlen(p), rcpt, sizeof rcpt);
        to = curl_slist_append(to, rcpt);
        p = comma ? comma + 1 : NULL;
    }
    c->up = msg;
    c->uplen = strlen(msg);
    c->upoff = 0;
    CURL *h = c->h;
    curl_easy_setopt(h, CURLOPT_URL, s->url);
    curl_easy_setopt(h, CURLOPT_MAIL_FROM, from);
    curl_easy_setopt(h, CURLOPT_MAIL_RCPT, to);
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(h, CURLOPT_READDATA, c);
    curl_easy_setopt(h, CURLOPT_INFILESIZE, (long)c->uplen);
    if (strncasecmp(s->url, "smtp://", 7) == 0)
        curl_easy_setopt(h, CURLOPT_USE_SSL,
                         *s->username && !loopback_url(s->url) ? (long)CURLUSESSL_ALL
                                                               : (long)CURLUSESSL_TRY);
    if (*s->username) {
        curl_easy_setopt(h, CURLOPT_USERNAME, s->username);
        curl_easy_setopt(h, CURLOPT_PASSWORD, s->password);
    }
    CURLcode rc = curl_easy_perform(h);
    curl_slist_free_all(to);
    c->up = NULL;
    free(msg);
    return rc == CURLE_OK ? 0 : transfer_error(c, rc, err, errlen);
}

int sink_send(sink_conn *c, const sink_cfg *s, const notice *n, char *err, size_t errlen)
{
    if (s->kind == SINK_SMTP) return send_mail(c, s, n, err, errlen);
    char *body = s->kind == SINK_WEBHOOK        ? sink_fmt_webhook(n)
                 : s->kind == SINK_SLACK        ? sink_fmt_slack(n, s->dashboard_url)
                 : s->kind == SINK_ALERTMANAGER ? sink_fmt_alertmanager(n, s->dashboard_url)
                                                : NULL;
    if (!body) {
        snprintf(err, errlen, "%s", s->kind == SINK_NONE ? "no type configured" : "out of memory");
        return -1;
    }
    char url[SINK_STR_MAX + 32];
    snprintf(url, sizeof url, "%s", s->url);
    if (s->kind == SINK_ALERTMANAGER) {
        /* url is Alertmanager's base ("http://am:9093"); the full endpoint
         * is accepted too. */
        size_t len = strlen(url);
        static const char ep[] = "/api/v2/alerts";
        if (len < sizeof ep - 1 || strcmp(url + len - (sizeof ep - 1), ep) != 0) {
            while (len && url[len - 1] == '/')
                url[--len] = '\0';
            snprintf(url + len, sizeof url - len, "%s", ep);
        }
    }
    int rc = post_json(c, s, url, body, err, errlen);
    free(body);
    return rc;
}
