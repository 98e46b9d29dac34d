/*
 * sink_cfg: one `[sink "name"]` section, key by key (sink_cfg_set) and then as
 * a whole (sink_cfg_check). Keys arrive in file order, so whether a key fits
 * the sink's type is only known at the end: sink_cfg_set checks each value on
 * its own, sink_cfg_check the combination. Errors name the key; the config
 * reader adds file and line.
 */
#include "server/sink.h"

#include "core/err.h"
#include "core/tfmt.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *const kind_names[] = {"", "webhook", "slack", "smtp", "alertmanager"};

const char *sink_kind_name(sink_kind k)
{
    return (unsigned)k < sizeof kind_names / sizeof *kind_names ? kind_names[k] : "unknown";
}

int sink_cfg_init(sink_cfg *s, const char *name, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    s->timeout_ms = SINK_TIMEOUT_DEFAULT_MS;
    size_t n = strlen(name);
    if (!notice_name_valid(name, n))
        return err_set(err, errlen, "sink name '%s': must be " NOTICE_NAME_RULE, name);
    memcpy(s->name, name, n + 1);
    return 0;
}

/* Values go into mail headers and HTTP requests: no control characters, so a
 * value can never start a new header line. */
static bool printable(const char *v)
{
    for (const unsigned char *p = (const unsigned char *)v; *p; p++)
        if (*p < 0x20 || *p == 0x7f) return false;
    return true;
}

static bool has_scheme(const char *url, const char *a, const char *b)
{
    return strncasecmp(url, a, strlen(a)) == 0 || strncasecmp(url, b, strlen(b)) == 0;
}

/* "a@b" or "Name <a@b>": one address, an @ in the address part. */
static bool mail_address(const char *v, size_t len)
{
    const char *lt = memchr(v, '<', len);
    if (lt) {
        const char *gt = memchr(lt, '>', len - (size_t)(lt - v));
        if (!gt || gt != v + len - 1) return false;
        v = lt + 1;
        len = (size_t)(gt - v);
    }
    while (len && *v == ' ')
        v++, len--;
    while (len && v[len - 1] == ' ')
        len--;
    const char *at = memchr(v, '@', len);
    return len > 2 && at && at != v && at != v + len - 1 && !memchr(v, ' ', len) &&
           !memchr(v, ',', len);
}

static int set_str(char *dst, const char *key, const char *v, char *err, size_t errlen)
{
    if (strlen(v) >= SINK_STR_MAX)
        return err_set(err, errlen, "key '%s': value longer than %d bytes", key, SINK_STR_MAX - 1);
    if (!printable(v)) return err_set(err, errlen, "key '%s': control characters in value", key);
    snprintf(dst, SINK_STR_MAX, "%s", v);
    return 0;
}

int sink_cfg_set(sink_cfg *s, const char *key, const char *v, char *err, size_t errlen)
{
    if (strcmp(key, "type") == 0) {
        for (int k = SINK_WEBHOOK; k <= SINK_ALERTMANAGER; k++)
            if (strcmp(v, kind_names[k]) == 0) {
                s->kind = (sink_kind)k;
                return 0;
            }
        return err_set(err, errlen,
                       "key 'type': unknown sink type '%s' (webhook, slack, smtp, alertmanager)",
                       v);
    }
    if (strcmp(key, "timeout") == 0) {
        int64_t ms;
        if (tfmt_parse_duration(v, &ms) != 0 || ms <= 0 || ms > SINK_TIMEOUT_MAX_MS)
            return err_set(err, errlen,
                           "key 'timeout': '%s' is not a duration from 1ms to %ds (e.g. 5s, 500ms)",
                           v, SINK_TIMEOUT_MAX_MS / 1000);
        s->timeout_ms = (int)ms;
        return 0;
    }
    if (strcmp(key, "url") == 0) {
        if (!*v || strchr(v, ' ') || !strstr(v, "://"))
            return err_set(err, errlen, "key 'url': '%s' is not a URL", v);
        return set_str(s->url, key, v, err, errlen);
    }
    if (strcmp(key, "dashboard_url") == 0) {
        if (!has_scheme(v, "http://", "https://") || strchr(v, ' '))
            return err_set(err, errlen, "key 'dashboard_url': '%s' is not an http(s) URL", v);
        return set_str(s->dashboard_url, key, v, err, errlen);
    }
    if (strcmp(key, "from") == 0) {
        if (!mail_address(v, strlen(v)))
            return err_set(err, errlen, "key 'from': '%s' is not one e-mail address", v);
        return set_str(s->from, key, v, err, errlen);
    }
    if (strcmp(key, "to") == 0) {
        const char *p = v;
        do {
            const char *comma = strchr(p, ',');
            size_t len = comma ? (size_t)(comma - p) : strlen(p);
            if (!mail_address(p, len))
                return err_set(err, errlen, "key 'to': '%.*s' is not an e-mail address", (int)len,
                               p);
            p = comma ? comma + 1 : NULL;
        } while (p);
        return set_str(s->to, key, v, err, errlen);
    }
    if (strcmp(key, "secret") == 0) {
        if (!*v)
            return err_set(err, errlen, "key 'secret': empty (leave the key out for unsigned)");
        return set_str(s->secret, key, v, err, errlen);
    }
    if (strcmp(key, "username") == 0) return set_str(s->username, key, v, err, errlen);
    if (strcmp(key, "password") == 0) return set_str(s->password, key, v, err, errlen);
    return err_set(err, errlen,
                   "unknown key '%s' in [sink \"%s\"] (type, url, timeout, secret, dashboard_url, "
                   "from, to, username, password)",
                   key, s->name);
}

int sink_cfg_check(const sink_cfg *s, char *err, size_t errlen)
{
    if (s->kind == SINK_NONE)
        return err_set(err, errlen, "key 'type' missing (webhook, slack, smtp, alertmanager)");
    const char *kind = sink_kind_name(s->kind);
    if (!*s->url) return err_set(err, errlen, "key 'url' missing");
    bool smtp = s->kind == SINK_SMTP;
    if (smtp && !has_scheme(s->url, "smtp://", "smtps://"))
        return err_set(err, errlen, "key 'url': smtp wants smtp:// or smtps://, not '%s'", s->url);
    if (!smtp && !has_scheme(s->url, "http://", "https://"))
        return err_set(err, errlen, "key 'url': %s wants http:// or https://, not '%s'", kind,
                       s->url);
    if (smtp && !*s->from) return err_set(err, errlen, "key 'from' missing");
    if (smtp && !*s->to) return err_set(err, errlen, "key 'to' missing");
    if (*s->password && !*s->username)
        return err_set(err, errlen, "key 'password' without 'username'");
    struct {
        const char *key;
        bool set, fits;
    } only[] = {
        {"secret", *s->secret, s->kind == SINK_WEBHOOK},
        {"from", *s->from, smtp},
        {"to", *s->to, smtp},
        {"username", *s->username, smtp},
        {"password", *s->password, smtp},
        {"dashboard_url", *s->dashboard_url, s->kind != SINK_WEBHOOK},
    };
    for (size_t i = 0; i < sizeof only / sizeof *only; i++)
        if (only[i].set && !only[i].fits)
            return err_set(err, errlen, "key '%s' does not apply to type %s", only[i].key, kind);
    return 0;
}
