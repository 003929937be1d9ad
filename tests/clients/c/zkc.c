/*
 * Drives the ZooKeeper C client (Debian's libzookeeper_mt, the library Mesos
 * links) through named scenarios and prints one machine-checkable line per
 * step on stdout.  The same program run against Apache ZooKeeper 3.8 prints
 * the same transcript; tests/tests/c_client.rs compares ferrokeeper's
 * transcript line by line.
 *
 *   cc -DTHREADED -o zkc zkc.c -lzookeeper_mt
 *   zkc <scenario> <host:port>
 *
 * Scenarios:
 *   basic          connect, create modes, get/set/delete with versions and errors,
 *                  watches fired by a second handle, async calls, sync, close
 *   multi          multi success and failure with per-op results
 *   auth           digest add_auth, "auth" and "digest" ACLs, NoAuth, getACL/setACL,
 *                  AuthFailed for an unknown scheme
 *   expiry-kill    a child process owns an ephemeral node and is killed with SIGKILL;
 *   expiry-stop    ... or frozen with SIGSTOP (its TCP connection stays open).
 *                  The parent watches the ephemeral node and reports when the
 *                  session expired.  Needs a server whose minimum session
 *                  timeout is at most 1000 ms (ferrokeeper --tick-time 500).
 *
 * Lines are "<handle> <op> <args> -> <result>", "event <handle> type=T path=P",
 * "error <code>" for a failed call.  Values that differ from run to run
 * (session ids, zxids, times) are printed as relations (owner=self, in-bounds).
 * Exit status 0 means the scenario ran to its end; the transcript says
 * whether the server behaved.
 */
#include <zookeeper/zookeeper.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define WAIT_MS 10000
#define MAX_EVENTS 64

/* ---- output ---------------------------------------------------------------- */

static pthread_mutex_t out_mu = PTHREAD_MUTEX_INITIALIZER;

static void out(const char *fmt, ...)
{
    va_list ap;
    pthread_mutex_lock(&out_mu);
    va_start(ap, fmt);
    vfprintf(stdout, fmt, ap);
    va_end(ap);
    fputc('\n', stdout);
    fflush(stdout);
    pthread_mutex_unlock(&out_mu);
}

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "zkc: fatal: ");
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    out("fatal");
    exit(2);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void deadline_in(struct timespec *ts, int ms)
{
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

/* ---- handles and their events ---------------------------------------------- */

struct event {
    int type;
    int state;
    char path[256];
};

struct handle {
    const char *name;
    zhandle_t *zh;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    struct event events[MAX_EVENTS]; /* node events, in arrival order */
    int head, tail;
    int last_state;  /* last session-event state */
    int state_count; /* session events seen */
};

static void watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    struct handle *h = ctx;
    (void)zh;
    if (!h)
        return;
    pthread_mutex_lock(&h->mu);
    if (type == ZOO_SESSION_EVENT) {
        h->last_state = state;
        h->state_count++;
    } else if (h->tail - h->head < MAX_EVENTS) {
        struct event *e = &h->events[h->tail % MAX_EVENTS];
        e->type = type;
        e->state = state;
        snprintf(e->path, sizeof e->path, "%s", path ? path : "(null)");
        h->tail++;
    }
    pthread_cond_broadcast(&h->cond);
    pthread_mutex_unlock(&h->mu);
}

/* Waits until the handle's session state is `want` (or ms pass); returns the last state. */
static int wait_state(struct handle *h, int want, int ms)
{
    struct timespec until;
    int st;
    deadline_in(&until, ms);
    pthread_mutex_lock(&h->mu);
    while (h->last_state != want) {
        if (pthread_cond_timedwait(&h->cond, &h->mu, &until) == ETIMEDOUT)
            break;
    }
    st = h->last_state;
    pthread_mutex_unlock(&h->mu);
    return st;
}

static struct handle *open_handle(const char *name, const char *hosts, int timeout_ms)
{
    struct handle *h = calloc(1, sizeof *h);
    int st;
    if (!h)
        die("out of memory");
    h->name = name;
    pthread_mutex_init(&h->mu, NULL);
    pthread_cond_init(&h->cond, NULL);
    h->zh = zookeeper_init(hosts, watcher, timeout_ms, NULL, h, 0);
    if (!h->zh)
        die("zookeeper_init(%s): %s", hosts, strerror(errno));
    st = wait_state(h, ZOO_CONNECTED_STATE, WAIT_MS);
    /* the watcher saw SyncConnected; zoo_state agrees; the session has an id */
    out("%s connect -> watcher state=%d zoo_state=%d session=%s timeout=%d", name, st,
        zoo_state(h->zh), zoo_client_id(h->zh)->client_id != 0 ? "set" : "zero",
        zoo_recv_timeout(h->zh));
    if (st != ZOO_CONNECTED_STATE)
        die("%s did not connect", name);
    return h;
}

static void close_handle(struct handle *h)
{
    int rc = zookeeper_close(h->zh);
    out("%s close -> %d", h->name, rc);
    h->zh = NULL;
}

/* Prints the next node event of the handle, waiting for it at most WAIT_MS. */
static void next_event(struct handle *h)
{
    struct timespec until;
    struct event e;
    int got = 0;
    deadline_in(&until, WAIT_MS);
    pthread_mutex_lock(&h->mu);
    while (h->head == h->tail) {
        if (pthread_cond_timedwait(&h->cond, &h->mu, &until) == ETIMEDOUT)
            break;
    }
    if (h->head != h->tail) {
        e = h->events[h->head % MAX_EVENTS];
        h->head++;
        got = 1;
    }
    pthread_mutex_unlock(&h->mu);
    if (got)
        out("event %s type=%d state=%d path=%s", h->name, e.type, e.state, e.path);
    else
        out("event %s none within %d ms", h->name, WAIT_MS);
}

/* After a round trip (sync + exists), prints how many node events are queued. */
static void pending_events(struct handle *h)
{
    struct Stat st;
    int n;
    zoo_exists(h->zh, "/", 0, &st);
    pthread_mutex_lock(&h->mu);
    n = h->tail - h->head;
    pthread_mutex_unlock(&h->mu);
    out("%s pending events -> %d", h->name, n);
}

/* ---- printing results ------------------------------------------------------- */

static const char *owner(struct handle *h, const struct Stat *st)
{
    if (st->ephemeralOwner == 0)
        return "0";
    if (st->ephemeralOwner == zoo_client_id(h->zh)->client_id)
        return "self";
    return "other";
}

static void print_stat(char *buf, size_t len, struct handle *h, const struct Stat *st)
{
    snprintf(buf, len,
             "version=%d cversion=%d aversion=%d dataLength=%d numChildren=%d owner=%s "
             "czxid%smzxid pzxid%sczxid",
             st->version, st->cversion, st->aversion, st->dataLength, st->numChildren,
             owner(h, st), st->czxid == st->mzxid ? "==" : "<",
             st->pzxid == st->czxid ? "==" : ">");
}

static void do_create(struct handle *h, const char *path, const char *data, int mode,
                      const struct ACL_vector *acl)
{
    char created[512];
    struct Stat st;
    const char *mname[] = {"persistent", "ephemeral", "persistent-sequential",
                           "ephemeral-sequential", "container"};
    int rc = zoo_create2(h->zh, path, data, data ? (int)strlen(data) : -1,
                         acl ? acl : &ZOO_OPEN_ACL_UNSAFE, mode, created, sizeof created,
                         &st);
    if (rc == ZOK) {
        char s[256];
        print_stat(s, sizeof s, h, &st);
        out("%s create %s %s -> %s %s", h->name, mode >= 0 && mode <= 4 ? mname[mode] : "?",
            path, created, s);
    } else {
        out("%s create %s -> error %d", h->name, path, rc);
    }
}

static void print_get(struct handle *h, const char *op, const char *path, int rc,
                      const char *buf, int len, const struct Stat *st)
{
    if (rc != ZOK) {
        out("%s %s %s -> error %d", h->name, op, path, rc);
    } else if (len < 0) {
        char s[256];
        print_stat(s, sizeof s, h, st);
        out("%s %s %s -> data=(null) %s", h->name, op, path, s);
    } else {
        char s[256];
        print_stat(s, sizeof s, h, st);
        out("%s %s %s -> data=%.*s %s", h->name, op, path, len, buf, s);
    }
}

static void do_get(struct handle *h, const char *path, int watch)
{
    char buf[1024];
    int len = sizeof buf;
    struct Stat st;
    int rc = zoo_get(h->zh, path, watch, buf, &len, &st);
    print_get(h, watch ? "get-watch" : "get", path, rc, buf, len, &st);
}

static void do_exists(struct handle *h, const char *path, int watch)
{
    struct Stat st;
    int rc = zoo_exists(h->zh, path, watch, &st);
    const char *op = watch ? "exists-watch" : "exists";
    if (rc == ZOK) {
        char s[256];
        print_stat(s, sizeof s, h, &st);
        out("%s %s %s -> %s", h->name, op, path, s);
    } else {
        out("%s %s %s -> error %d", h->name, op, path, rc);
    }
}

static void do_set(struct handle *h, const char *path, const char *data, int version)
{
    struct Stat st;
    int rc = zoo_set2(h->zh, path, data, (int)strlen(data), version, &st);
    if (rc == ZOK)
        out("%s set %s %s v%d -> version=%d dataLength=%d", h->name, path, data, version,
            st.version, st.dataLength);
    else
        out("%s set %s %s v%d -> error %d", h->name, path, data, version, rc);
}

static void do_delete(struct handle *h, const char *path, int version)
{
    int rc = zoo_delete(h->zh, path, version);
    out("%s delete %s v%d -> %d", h->name, path, version, rc);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void print_children(struct handle *h, const char *op, const char *path, int rc,
                           struct String_vector *v, const struct Stat *st)
{
    char line[2048];
    size_t n = 0;
    int i;
    if (rc != ZOK) {
        out("%s %s %s -> error %d", h->name, op, path, rc);
        return;
    }
    qsort(v->data, (size_t)v->count, sizeof(char *), cmp_str);
    line[0] = 0;
    for (i = 0; i < v->count && n < sizeof line - 300; i++)
        n += (size_t)snprintf(line + n, sizeof line - n, "%s%s", i ? "," : "", v->data[i]);
    if (st)
        out("%s %s %s -> [%s] cversion=%d numChildren=%d", h->name, op, path, line,
            st->cversion, st->numChildren);
    else
        out("%s %s %s -> [%s]", h->name, op, path, line);
}

static void do_children(struct handle *h, const char *path, int watch)
{
    struct String_vector v;
    struct Stat st;
    int rc = zoo_get_children2(h->zh, path, watch, &v, &st);
    print_children(h, watch ? "children-watch" : "children", path, rc, &v, &st);
    if (rc == ZOK)
        deallocate_String_vector(&v);
}

static void print_acl(struct handle *h, const char *path)
{
    struct ACL_vector acl;
    struct Stat st;
    char line[1024];
    size_t n = 0;
    int i;
    int rc = zoo_get_acl(h->zh, path, &acl, &st);
    if (rc != ZOK) {
        out("%s getacl %s -> error %d", h->name, path, rc);
        return;
    }
    line[0] = 0;
    for (i = 0; i < acl.count && n < sizeof line - 200; i++)
        n += (size_t)snprintf(line + n, sizeof line - n, "%s%s:%s:%d", i ? "," : "",
                              acl.data[i].id.scheme, acl.data[i].id.id, acl.data[i].perms);
    out("%s getacl %s -> [%s] aversion=%d", h->name, path, line, st.aversion);
    deallocate_ACL_vector(&acl);
}

/* ---- async completions -------------------------------------------------------- */

struct done {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    int finished;
    int rc;
    char text[1024];
};

static void done_init(struct done *d)
{
    pthread_mutex_init(&d->mu, NULL);
    pthread_cond_init(&d->cond, NULL);
    d->finished = 0;
    d->rc = 0;
    d->text[0] = 0;
}

static void done_finish(struct done *d, int rc, const char *text)
{
    pthread_mutex_lock(&d->mu);
    d->rc = rc;
    snprintf(d->text, sizeof d->text, "%s", text ? text : "");
    d->finished = 1;
    pthread_cond_broadcast(&d->cond);
    pthread_mutex_unlock(&d->mu);
}

static int done_wait(struct done *d)
{
    struct timespec until;
    int ok;
    deadline_in(&until, WAIT_MS);
    pthread_mutex_lock(&d->mu);
    while (!d->finished) {
        if (pthread_cond_timedwait(&d->cond, &d->mu, &until) == ETIMEDOUT)
            break;
    }
    ok = d->finished;
    pthread_mutex_unlock(&d->mu);
    return ok;
}

static void string_done(int rc, const char *value, const void *data)
{
    done_finish((struct done *)data, rc, value);
}

static void void_done(int rc, const void *data)
{
    done_finish((struct done *)data, rc, NULL);
}

static void children_done(int rc, const struct String_vector *v, const struct Stat *st,
                          const void *data)
{
    char line[1024];
    size_t n = 0;
    int i;
    line[0] = 0;
    if (rc == ZOK) {
        /* the library frees v after we return; sort a copy of the pointers */
        char *names[64];
        int count = v->count < 64 ? v->count : 64;
        for (i = 0; i < count; i++)
            names[i] = v->data[i];
        qsort(names, (size_t)count, sizeof(char *), cmp_str);
        for (i = 0; i < count && n < sizeof line - 300; i++)
            n += (size_t)snprintf(line + n, sizeof line - n, "%s%s", i ? "," : "", names[i]);
        n += (size_t)snprintf(line + n, sizeof line - n, "] numChildren=%d", st->numChildren);
    }
    done_finish((struct done *)data, rc, line);
}

static void data_done(int rc, const char *value, int len, const struct Stat *st,
                      const void *data)
{
    char line[1024];
    line[0] = 0;
    if (rc == ZOK)
        snprintf(line, sizeof line, "data=%.*s version=%d", len < 0 ? 0 : len,
                 value ? value : "", st->version);
    done_finish((struct done *)data, rc, line);
}

/* ---- scenarios ------------------------------------------------------------------- */

static void scenario_basic(const char *hosts)
{
    struct handle *a = open_handle("a", hosts, 10000);
    struct handle *b = open_handle("b", hosts, 10000);
    struct done d;

    /* create in every plain mode, and its errors */
    do_create(a, "/a", "one", ZOO_PERSISTENT, NULL);
    do_create(a, "/a", "again", ZOO_PERSISTENT, NULL);
    do_get(a, "/a", 0);
    do_create(a, "/a/eph", "e", ZOO_EPHEMERAL, NULL);
    do_create(a, "/a/seq-", "s", ZOO_PERSISTENT_SEQUENTIAL, NULL);
    do_create(a, "/a/eseq-", "es", ZOO_EPHEMERAL_SEQUENTIAL, NULL);
    do_create(a, "/a/seq-", "s", ZOO_PERSISTENT_SEQUENTIAL, NULL);
    do_create(a, "/a/eph/child", "x", ZOO_PERSISTENT, NULL);
    do_create(a, "/missing/child", "x", ZOO_PERSISTENT, NULL);
    do_create(a, "bad-path", "x", ZOO_PERSISTENT, NULL);
    do_create(a, "/null", NULL, ZOO_PERSISTENT, NULL);
    do_get(a, "/null", 0);
    do_exists(b, "/a/eph", 0);
    do_children(b, "/a", 0);
    do_get(b, "/missing", 0);

    /* getData watch fired by the other handle's setData */
    do_get(a, "/a", 1);
    do_set(b, "/a", "two", 0);
    next_event(a);
    do_set(b, "/a", "three", 0);
    do_set(b, "/a", "three", 1);
    do_set(b, "/missing", "x", -1);
    pending_events(a); /* one-shot: the second set fired nothing */
    do_get(a, "/a", 0);

    /* exists watch on a missing node -> NodeCreated */
    do_exists(a, "/b", 1);
    do_create(b, "/b", "bee", ZOO_PERSISTENT, NULL);
    next_event(a);

    /* getChildren watch -> NodeChildrenChanged */
    do_children(a, "/b", 1);
    do_create(b, "/b/c1", "", ZOO_PERSISTENT, NULL);
    next_event(a);
    do_children(a, "/b", 0);

    /* exists watch on an existing node -> NodeDeleted; child watch on the parent too */
    do_exists(a, "/b/c1", 1);
    do_children(a, "/b", 1);
    do_delete(b, "/b/c1", 0);
    next_event(a);
    next_event(a);
    pending_events(a);

    /* delete errors */
    do_delete(b, "/a", -1);
    do_delete(b, "/nope", -1);
    do_delete(b, "/b", 5);
    do_delete(b, "/b", 0);
    do_exists(b, "/b", 0);

    /* the async API, as Mesos uses it */
    done_init(&d);
    zoo_acreate(a->zh, "/async", "x", 1, &ZOO_OPEN_ACL_UNSAFE, 0, string_done, &d);
    if (!done_wait(&d))
        die("acreate did not complete");
    out("a acreate /async -> %d %s", d.rc, d.text);
    done_init(&d);
    zoo_aget(a->zh, "/async", 0, data_done, &d);
    if (!done_wait(&d))
        die("aget did not complete");
    out("a aget /async -> %d %s", d.rc, d.text);
    done_init(&d);
    zoo_aget_children2(a->zh, "/a", 0, children_done, &d);
    if (!done_wait(&d))
        die("aget_children2 did not complete");
    out("a aget_children2 /a -> %d [%s", d.rc, d.text);
    done_init(&d);
    zoo_async(a->zh, "/a", string_done, &d);
    if (!done_wait(&d))
        die("sync did not complete");
    out("a sync /a -> %d %s", d.rc, d.text);
    done_init(&d);
    zoo_adelete(a->zh, "/async", 0, void_done, &d);
    if (!done_wait(&d))
        die("adelete did not complete");
    out("a adelete /async -> %d", d.rc);

    /* closing a session deletes its ephemerals at once and fires watches */
    do_exists(b, "/a/eph", 1);
    do_children(b, "/a", 1);
    close_handle(a);
    next_event(b);
    next_event(b);
    do_children(b, "/a", 0);
    do_exists(b, "/a/eph", 0);
    close_handle(b);
}

static void print_multi(struct handle *h, const char *name, int rc, zoo_op_result_t *res,
                        int n)
{
    char line[1024];
    size_t len = 0;
    int i;
    line[0] = 0;
    for (i = 0; i < n; i++) {
        len += (size_t)snprintf(line + len, sizeof line - len, "%s%d", i ? " " : "",
                                res[i].err);
        if (res[i].err == ZOK && res[i].value)
            len += (size_t)snprintf(line + len, sizeof line - len, ":%s", res[i].value);
        if (res[i].err == ZOK && res[i].stat && res[i].stat->mzxid != 0)
            len += (size_t)snprintf(line + len, sizeof line - len, ":v%d",
                                    res[i].stat->version);
    }
    out("%s multi %s -> %d [%s]", h->name, name, rc, line);
}

static void scenario_multi(const char *hosts)
{
    struct handle *a = open_handle("a", hosts, 10000);
    zoo_op_t ops[5];
    zoo_op_result_t res[5];
    char p1[128], p2[128], p3[128];
    struct Stat s3;

    do_create(a, "/m", "m", ZOO_PERSISTENT, NULL);

    /* success: create, create, set, check, delete */
    memset(res, 0, sizeof res);
    memset(&s3, 0, sizeof s3);
    zoo_create_op_init(&ops[0], "/m/x", "x", 1, &ZOO_OPEN_ACL_UNSAFE, 0, p1, sizeof p1);
    zoo_create_op_init(&ops[1], "/m/s-", "s", 1, &ZOO_OPEN_ACL_UNSAFE, ZOO_SEQUENCE, p2,
                       sizeof p2);
    zoo_set_op_init(&ops[2], "/m", "mm", 2, 0, &s3);
    zoo_check_op_init(&ops[3], "/m", 1);
    zoo_delete_op_init(&ops[4], "/m/x", 0);
    print_multi(a, "ok", zoo_multi(a->zh, 5, ops, res), res, 5);
    do_get(a, "/m", 0);
    do_children(a, "/m", 0);

    /* failure in the middle: nothing applied, per-op 0 / code / -2 */
    memset(res, 0, sizeof res);
    zoo_create_op_init(&ops[0], "/m/y", "y", 1, &ZOO_OPEN_ACL_UNSAFE, 0, p1, sizeof p1);
    zoo_set_op_init(&ops[1], "/nope", "n", 1, -1, NULL);
    zoo_create_op_init(&ops[2], "/m/z", "z", 1, &ZOO_OPEN_ACL_UNSAFE, 0, p3, sizeof p3);
    print_multi(a, "nonode-in-middle", zoo_multi(a->zh, 3, ops, res), res, 3);
    do_exists(a, "/m/y", 0);
    do_exists(a, "/m/z", 0);

    /* failure in the first op: a version check */
    memset(res, 0, sizeof res);
    zoo_check_op_init(&ops[0], "/m", 7);
    zoo_delete_op_init(&ops[1], "/m", -1);
    print_multi(a, "badversion-first", zoo_multi(a->zh, 2, ops, res), res, 2);

    /* failure in the last op: NodeExists rolls back the earlier delete */
    memset(res, 0, sizeof res);
    zoo_delete_op_init(&ops[0], "/m/s-0000000001", 0);
    zoo_create_op_init(&ops[1], "/m", "again", 5, &ZOO_OPEN_ACL_UNSAFE, 0, p1, sizeof p1);
    print_multi(a, "nodeexists-last", zoo_multi(a->zh, 2, ops, res), res, 2);
    do_children(a, "/m", 0);

    /* a delete of a non-empty node inside a multi */
    memset(res, 0, sizeof res);
    zoo_delete_op_init(&ops[0], "/m", -1);
    print_multi(a, "notempty", zoo_multi(a->zh, 1, ops, res), res, 1);

    /* empty multi */
    print_multi(a, "empty", zoo_multi(a->zh, 0, ops, res), res, 0);
    close_handle(a);
}

static void scenario_auth(const char *hosts)
{
    struct handle *a = open_handle("a", hosts, 10000);
    struct handle *b = open_handle("b", hosts, 10000);
    struct handle *c;
    struct done d;
    struct ACL alice_acl[] = {{ZOO_PERM_ALL, {"digest", "alice:V55/p2T0OpjQ+low3NVAH4aLvm0="}},
                              {ZOO_PERM_READ, {"world", "anyone"}}};
    struct ACL_vector alice = {2, alice_acl};

    /* "auth" ACL without credentials is refused */
    do_create(a, "/secret", "s", ZOO_PERSISTENT, &ZOO_CREATOR_ALL_ACL);

    done_init(&d);
    zoo_add_auth(a->zh, "digest", "bob:secret", 10, void_done, &d);
    if (!done_wait(&d))
        die("add_auth did not complete");
    out("a add_auth digest bob -> %d", d.rc);

    do_create(a, "/secret", "s", ZOO_PERSISTENT, &ZOO_CREATOR_ALL_ACL);
    do_get(a, "/secret", 0);
    print_acl(a, "/secret");
    do_get(b, "/secret", 0);
    do_set(b, "/secret", "x", -1);
    do_create(b, "/secret/child", "c", ZOO_PERSISTENT, NULL);

    /* the wrong password is accepted by add_auth but grants nothing */
    done_init(&d);
    zoo_add_auth(b->zh, "digest", "bob:wrong", 9, void_done, &d);
    if (!done_wait(&d))
        die("add_auth did not complete");
    out("b add_auth digest bob:wrong -> %d", d.rc);
    do_get(b, "/secret", 0);
    do_delete(a, "/secret", -1);

    /* an explicit digest ACL plus world:anyone READ; without ADMIN, getACL masks
     * digest hashes as "x" */
    do_create(a, "/alice", "al", ZOO_PERSISTENT, &alice);
    print_acl(b, "/alice");
    do_get(b, "/alice", 0);
    do_set(b, "/alice", "x", -1);
    do_set(a, "/alice", "x", -1);
    done_init(&d);
    zoo_add_auth(b->zh, "digest", "alice:pw", 8, void_done, &d);
    if (!done_wait(&d))
        die("add_auth did not complete");
    out("b add_auth digest alice -> %d", d.rc);
    do_set(b, "/alice", "by-alice", 0);

    /* setACL with versions */
    {
        struct ACL r[] = {{ZOO_PERM_READ | ZOO_PERM_ADMIN, {"world", "anyone"}}};
        struct ACL_vector rv = {1, r};
        int rc = zoo_set_acl(b->zh, "/alice", 3, &rv);
        out("b setacl /alice v3 -> %d", rc);
        rc = zoo_set_acl(a->zh, "/alice", 0, &rv);
        out("a setacl /alice v0 -> %d", rc);
        rc = zoo_set_acl(b->zh, "/alice", 0, &rv);
        out("b setacl /alice v0 -> %d", rc);
        print_acl(a, "/alice");
        do_set(a, "/alice", "y", -1);
        do_delete(a, "/alice", -1);
    }
    {
        struct ACL bad[] = {{ZOO_PERM_ALL, {"digest", "no-colon"}}};
        struct ACL_vector bv = {1, bad};
        do_create(a, "/invalid-acl", "x", ZOO_PERSISTENT, &bv);
    }

    /* an unknown scheme: AuthFailed, then the session is unusable */
    c = open_handle("c", hosts, 10000);
    done_init(&d);
    zoo_add_auth(c->zh, "nosuchscheme", "x", 1, void_done, &d);
    if (!done_wait(&d))
        die("add_auth did not complete");
    out("c add_auth nosuchscheme -> %d", d.rc);
    out("c state -> %d", wait_state(c, ZOO_AUTH_FAILED_STATE, WAIT_MS));

    close_handle(a);
    close_handle(b);
    zookeeper_close(c->zh);
}

/* The child: opens a 1000 ms session, creates an ephemeral, reports, then idles. */
static void expiry_child(const char *hosts, int ready_fd)
{
    struct handle *h = open_handle("child", hosts, 1000);
    char c = 'r';
    int st;
    do_create(h, "/expiring", "bye", ZOO_EPHEMERAL, NULL);
    if (write(ready_fd, &c, 1) != 1)
        die("write to parent");
    close(ready_fd);
    /* After SIGSTOP/SIGCONT the library notices its session is gone. */
    st = wait_state(h, ZOO_EXPIRED_SESSION_STATE, 60000);
    out("child state -> %d", st);
    exit(0);
}

static void scenario_expiry(const char *hosts, int stop)
{
    int fds[2];
    pid_t pid;
    char c;
    struct handle *w;
    int64_t t0, elapsed;
    int status;

    setvbuf(stdout, NULL, _IOLBF, 0);
    fflush(stdout);
    if (pipe(fds) != 0)
        die("pipe: %s", strerror(errno));
    /* fork before any library thread exists */
    pid = fork();
    if (pid < 0)
        die("fork: %s", strerror(errno));
    if (pid == 0) {
        /* never outlive the parent, whatever happens to it */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() == 1)
            exit(3);
        close(fds[0]);
        expiry_child(hosts, fds[1]);
    }
    close(fds[1]);
    if (read(fds[0], &c, 1) != 1) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        die("child did not get ready");
    }
    close(fds[0]);

    w = open_handle("w", hosts, 10000);
    do_exists(w, "/expiring", 1);

    t0 = now_ms();
    if (stop) {
        kill(pid, SIGSTOP);
        out("w sigstop child");
    } else {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        out("w sigkill child");
    }
    next_event(w);
    elapsed = now_ms() - t0;
    /* with a 1000 ms session the node must outlive the TCP connection for
     * several hundred ms, and be gone within a few ticks of the timeout */
    out("w expiry delay -> %s", elapsed < 500     ? "too-early"
                                : elapsed > 5000 ? "too-late"
                                                 : "in-bounds");
    fprintf(stderr, "zkc: ephemeral deleted %lld ms after the child stopped\n",
            (long long)elapsed);
    do_exists(w, "/expiring", 0);
    if (stop) {
        int64_t until = now_ms() + 30000;
        kill(pid, SIGCONT);
        /* the child prints its own "child state" line, then exits */
        while (waitpid(pid, &status, WNOHANG) == 0) {
            if (now_ms() > until) {
                kill(pid, SIGKILL);
                waitpid(pid, &status, 0);
                out("child did not exit");
                break;
            }
            usleep(20000);
        }
    }
    close_handle(w);
}

int main(int argc, char **argv)
{
    const char *scenario, *hosts;
    if (argc != 3) {
        fprintf(stderr, "usage: %s basic|multi|auth|expiry-kill|expiry-stop host:port\n",
                argv[0]);
        return 64;
    }
    scenario = argv[1];
    hosts = argv[2];
    signal(SIGPIPE, SIG_IGN);
    zoo_set_debug_level(getenv("ZKC_DEBUG") ? ZOO_LOG_LEVEL_DEBUG : ZOO_LOG_LEVEL_WARN);
    zoo_deterministic_conn_order(1);
    if (strcmp(scenario, "basic") == 0)
        scenario_basic(hosts);
    else if (strcmp(scenario, "multi") == 0)
        scenario_multi(hosts);
    else if (strcmp(scenario, "auth") == 0)
        scenario_auth(hosts);
    else if (strcmp(scenario, "expiry-kill") == 0)
        scenario_expiry(hosts, 0);
    else if (strcmp(scenario, "expiry-stop") == 0)
        scenario_expiry(hosts, 1);
    else {
        fprintf(stderr, "unknown scenario %s\n", scenario);
        return 64;
    }
    out("done");
    return 0;
}
