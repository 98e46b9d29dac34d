/*
 * reload: SIGHUP (mechanism in reload.h).
 */
#include "server/reload.h"

#include "core/err.h"
#include "server/alerts.h"

#include <stdlib.h>
#include <string.h>

extern char **environ;

int reload_load(cfg *c, const reload_src *src, char *err, size_t errlen)
{
    cfg_defaults(c);
    if ((src->file && cfg_load_file(c, src->file, err, errlen) != 0) ||
        cfg_load_env(c, environ, err, errlen) != 0 ||
        (src->listen && cfg_set(c, NULL, "listen", src->listen, err, errlen) != 0) ||
        (src->data && cfg_set(c, NULL, "data_dir", src->data, err, errlen) != 0))
        return -1;
    return cfg_validate(c, err, errlen);
}

static const cfg_group *find_group(const cfg *c, const char *name)
{
    for (size_t i = 0; i < c->ngroups; i++)
        if (strcmp(c->groups[i].name, name) == 0) return &c->groups[i];
    return NULL;
}

/* Rules may only name sinks the running notifier has: sinks are read at
 * start (their connections and queues live as long as vigild). */
static int sinks_known(const cfg *now, const cfg *n, char *err, size_t errlen)
{
    for (size_t i = 0; i < n->nrules; i++)
        for (int k = 0; k < n->rules[i].nsinks; k++)
            if (!cfg_sink_find((cfg *)now, n->rules[i].sinks[k]))
                return err_set(err, errlen,
                               "rule \"%s\" names sink \"%s\", which vigild did not start with: "
                               "new sinks need a restart",
                               n->rules[i].name, n->rules[i].sinks[k]);
    return 0;
}

int reload_apply(app *a, const reload_src *src, char *err, size_t errlen)
{
    cfg *n = malloc(sizeof *n);
    if (!n) return err_set(err, errlen, "out of memory");
    int rc = -1;
    if (reload_load(n, src, err, errlen) != 0 || sinks_known(&a->cfg, n, err, errlen) != 0)
        goto out;
    if (n->nrules && !a->alerts) {
        err_set(err, errlen, "alert rules where vigild started with none: that needs a restart");
        goto out;
    }
    if (a->alerts && alerts_set_rules(a->alerts, n->rules, n->nrules, err, errlen) != 0) goto out;
    /* TTLs: the new ones, and groups no longer configured back to the default. */
    for (size_t i = 0; i < a->cfg.ngroups; i++)
        if (!find_group(n, a->cfg.groups[i].name))
            reg_group_set_ttl(a->reg, a->cfg.groups[i].name, 0);
    for (size_t i = 0; i < n->ngroups; i++)
        reg_group_set_ttl(a->reg, n->groups[i].name, n->groups[i].ttl_s);
    reg_rewheel(a->reg); /* shorter TTLs are due sooner than the slots they were filed in */
    memcpy(a->cfg.groups, n->groups, n->ngroups * sizeof *n->groups);
    a->cfg.ngroups = n->ngroups;
    if (strcmp(n->listen, a->cfg.listen) || strcmp(n->data_dir, a->cfg.data_dir) ||
        strcmp(n->store_url, a->cfg.store_url) || n->http_threads != a->cfg.http_threads ||
        n->http_ring != a->cfg.http_ring || n->nsinks != a->cfg.nsinks)
        vlog("warn",
             "reload: listen, data_dir, store, http_threads, http_ring and sinks change only "
             "with a restart");
    vlog("info", "reload: %zu group TTLs and %zu alert rules in force", n->ngroups, n->nrules);
    rc = 0;
out:
    free(n);
    return rc;
}
