/*
 * mesos_sim: Apache Mesos's ZooKeeper leader election, re-implemented with the
 * ZooKeeper C client (Debian's libzookeeper_mt, the library Mesos links), for
 * the acceptance test tests/tests/mesos_election.rs.  It follows
 * /work/shared/reference/mesos-zk.md section 1 and, behind it, these Mesos
 * sources (apache/mesos c1b42f79):
 *
 *   src/zookeeper/group.cpp          GroupProcess: connection, connect timer,
 *                                    local expiry, sync(), join/cancel/data,
 *                                    cache() + watches, retry back-off, abort
 *   src/zookeeper/zookeeper.cpp      the wrapper: recursive create, add_auth,
 *                                    retryable codes
 *   include/mesos/zookeeper/watcher.hpp   ProcessWatcher (reconnect flag)
 *   src/zookeeper/contender.cpp      LeaderContender
 *   src/zookeeper/detector.cpp       LeaderDetector (leader = lowest sequence)
 *   src/master/contender/zookeeper.cpp, src/master/detector/zookeeper.cpp
 *                                    MasterInfo JSON, label "json.info", data fetch
 *   src/master/master.cpp            Master::contended/lostCandidacy/detected
 *
 *   cc -DTHREADED -o mesos_sim mesos_sim.c -lzookeeper_mt -lpthread
 *
 *   mesos_sim master    <name> <servers> <znode> <session_ms> [user:pass]
 *   mesos_sim agent     <name> <servers> <znode> <session_ms> [user:pass]
 *   mesos_sim scheduler <name> <servers> <znode> <session_ms> [user:pass]
 *       One process is one Mesos actor.  A master has two Groups (two
 *       sessions): "contender" (LeaderContender) and "detector"
 *       (LeaderDetector); an agent or a scheduler has one, "detector".
 *   mesos_sim expire <servers> <session hex> <password hex> <session_ms>
 *       Opens a handle with someone else's session and closes it: the portable
 *       way to expire that session on the server.
 *   mesos_sim inspect <servers> <znode> [user:pass]
 *       Prints the children of znode (ephemeral owner, data) and the ACLs of
 *       znode and its children.
 *
 * Output: one line per event on stdout, flushed, always ending with a
 * CLOCK_MONOTONIC timestamp in ms:
 *   START <role> <name> <pid> <t>
 *   SESSION <group> <id hex> <password hex> <negotiated ms> <t>  (new session)
 *   CONNECTED <group> <host:port> <id hex> new|reconnect <t>
 *   CONNECTING <group> <t>           connection lost, the connect timer runs
 *   EXPIRED <group> <t>              the server said the session expired
 *   TIMEDOUT <group> <t>             the connect timer fired: local expiry
 *   MEMBERS <group> <seq,...|-> <t>  the group's membership cache was refreshed
 *   JOINED <seq> <t>                 the contender obtained its candidacy
 *   LOST_CANDIDACY <seq> <t>
 *   DETECTED <seq> <master name> <t> / DETECTED none - <t>
 *                                    the master detector's leader changed
 *   ELECTED <seq> <t>                this master considers itself elected
 *   ABORT <group> <message> <t>      non-retryable error: the group stops
 *   EXIT <reason> <t>                then exit status 1 (Mesos's EXIT)
 *   EXIT sigterm <t>                 SIGTERM: handles closed, exit status 0
 *
 * The ZooKeeper C client's own log is off; MESOS_SIM_ZK_LOG=1..4 sends it to
 * stderr at that level (error .. debug).
 *
 * Kept from Mesos: the ZooKeeper calls and their order (zookeeper_init flags 0,
 * no chroot; add_auth digest; exists + create for each missing path level with
 * ZNODEEXISTS as success; EPHEMERAL|SEQUENCE "<znode>/json.info_" with the JSON
 * MasterInfo; getChildren with watch=1 after every change; getData of the
 * lowest sequence; delete of an old membership when re-contending); the ACLs
 * (OPEN, or EVERYONE_READ_CREATOR_ALL with credentials); the Group states,
 * what sync() does in each, the retryable codes and the 2 s .. 60 s back-off;
 * the connect timer (requested timeout at start, negotiated one after a
 * disconnection) and the local expiry it forces (MESOS-4546); expired():
 * watchers see the empty set, owned memberships are cancelled, new handle; the
 * contender's lost candidacy and re-contention; the master's reactions
 * (ELECTED, "Conceded leadership", "Lost leadership after indecisive
 * election", "Lost candidacy as a leader", "Failed to contend") and EXIT
 * without closing its handles.
 *
 * Simplified, and why:
 *  - libprocess actors become threads: one per Group (it blocks on the
 *    synchronous C API, as GroupProcess blocks on ZooKeeperProcess futures),
 *    and one for the rest (contender, detectors, master), fed by queues in
 *    message order.  Same serialisation, no libprocess.
 *  - Group::watch(expected): the detector always has one pending watch, so
 *    the group pushes every changed membership set to it instead (the instant
 *    between a satisfied watch and its renewal is not modelled).
 *  - The consumer sees every leader assignment of the master detector (one
 *    DETECTED line each), as a consumer that re-calls detect() at once does.
 *  - MasterInfo is checked for shape only (a JSON object with id, ip, port),
 *    not parsed into a protobuf; "elected" compares the JSON text, which is
 *    protobuf equality for data this program writes.  The "info_" (binary
 *    protobuf) label is accepted without parsing.
 *  - add_auth's completion is awaited at most 2 T, then retried (Mesos waits
 *    forever: a completion lost with the session would hang it).
 *  - No replicated-log groups (-L): a master has 2 sessions, not 4.  Agents
 *    and schedulers only detect (no registration RPCs), so they behave alike.
 *  - CHECK/LOG(FATAL) print "EXIT FATAL ..." and exit 1 instead of aborting.
 *  - SIGTERM closes both handles (the graceful stop of scenario 2); Mesos's
 *    own EXIT paths close nothing, and neither do this program's.
 */
#include <zookeeper/zookeeper.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_MEMBERS 512
#define MAX_TIMERS 64
#define RETRY_INTERVAL_MS 2000    /* group.cpp: GroupProcess::RETRY_INTERVAL */
#define RETRY_MAX_MS 60000        /* group.cpp: retry(): min(duration * 2, 60 s) */
#define DATA_BUFFER (1024 * 1024) /* ZooKeeper's data limit */
#define MASTER_INFO_JSON_LABEL "json.info"
#define MASTER_INFO_LABEL "info"

/* ---- output ------------------------------------------------------------- */

static pthread_mutex_t out_mu = PTHREAD_MUTEX_INITIALIZER;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One event line with the timestamp appended, flushed at once. */
static void out(const char *fmt, ...)
{
    va_list ap;
    pthread_mutex_lock(&out_mu);
    va_start(ap, fmt);
    vfprintf(stdout, fmt, ap);
    va_end(ap);
    fprintf(stdout, " %lld\n", (long long)now_ms());
    fflush(stdout);
    pthread_mutex_unlock(&out_mu);
}

/* Mesos's EXIT(EXIT_FAILURE): no destructors run, so no handle is closed. */
static void exit_failure(const char *fmt, ...)
{
    char reason[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    out("EXIT %s", reason);
    _exit(1);
}

/* CHECK / LOG(FATAL): an impossible state in Mesos's own code. */
#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond))                                                                 \
            exit_failure("FATAL CHECK failed at mesos_sim.c:%d: %s", __LINE__, #cond); \
    } while (0)

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n, size);
    if (!p)
        exit_failure("FATAL out of memory");
    return p;
}

static char *xstrdup(const char *s)
{
    char *p = strdup(s ? s : "");
    if (!p)
        exit_failure("FATAL out of memory");
    return p;
}

/* ---- messages between the actor and its groups --------------------------- */

enum kind {
    /* to a group (from its ZooKeeper watcher or from the actor) */
    EV_SESSION,
    EV_CHILD,
    EV_NODE, /* created/deleted/other: LOG(FATAL) in Mesos */
    REQ_JOIN,
    REQ_CANCEL,
    REQ_DATA,
    REQ_STOP,
    /* to the actor */
    M_MEMBERS,
    M_WATCH_FAILED,
    M_JOINED,
    M_JOIN_FAILED,
    M_CANCELLED, /* an owned membership's cancelled() future was set */
    M_CANCEL_DONE,
    M_DATA,
    M_DATA_FAILED,
    M_SIGNAL,
};

struct membership {
    int32_t seq;
    int has_label;
    char label[64];
};

struct msg {
    struct msg *next;
    enum kind kind;
    struct group *group;
    int gen;       /* handle generation of a watcher event */
    int type;      /* watcher event type */
    int state;     /* watcher event state */
    int reconnect; /* ProcessWatcher's flag at a CONNECTED event */
    struct membership m;
    int flag; /* M_CANCELLED: requested; M_DATA: data present */
    char *text; /* path, data or error */
    int n;
    struct membership *set; /* M_MEMBERS */
};

struct queue {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    struct msg *head, *tail;
};

static void q_init(struct queue *q)
{
    pthread_condattr_t attr;
    pthread_mutex_init(&q->mu, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&q->cond, &attr);
    q->head = q->tail = NULL;
}

static void q_push(struct queue *q, struct msg *m)
{
    m->next = NULL;
    pthread_mutex_lock(&q->mu);
    if (q->tail)
        q->tail->next = m;
    else
        q->head = m;
    q->tail = m;
    pthread_cond_signal(&q->cond);
    pthread_mutex_unlock(&q->mu);
}

/* The next message, waiting until `deadline` (monotonic ms, -1 = forever); NULL on timeout. */
static struct msg *q_pop(struct queue *q, int64_t deadline)
{
    struct msg *m;
    pthread_mutex_lock(&q->mu);
    while (!q->head) {
        if (deadline < 0) {
            pthread_cond_wait(&q->cond, &q->mu);
        } else {
            struct timespec ts;
            if (now_ms() >= deadline)
                break;
            ts.tv_sec = deadline / 1000;
            ts.tv_nsec = (long)(deadline % 1000) * 1000000L;
            pthread_cond_timedwait(&q->cond, &q->mu, &ts);
        }
    }
    m = q->head;
    if (m) {
        q->head = m->next;
        if (!q->head)
            q->tail = NULL;
    }
    pthread_mutex_unlock(&q->mu);
    return m;
}

static struct msg *msg_new(enum kind kind)
{
    struct msg *m = xcalloc(1, sizeof *m);
    m->kind = kind;
    return m;
}

static void msg_free(struct msg *m)
{
    free(m->text);
    free(m->set);
    free(m);
}

/* A FIFO of pending requests inside one group (no locking: group thread only). */
struct fifo {
    struct msg *head, *tail;
};

static void fifo_push(struct fifo *f, struct msg *m)
{
    m->next = NULL;
    if (f->tail)
        f->tail->next = m;
    else
        f->head = m;
    f->tail = m;
}

static struct msg *fifo_pop(struct fifo *f)
{
    struct msg *m = f->head;
    if (m) {
        f->head = m->next;
        if (!f->head)
            f->tail = NULL;
    }
    return m;
}

/* ---- the Group (group.cpp) ------------------------------------------------ */

enum gstate { DISCONNECTED, CONNECTING, CONNECTED, AUTHENTICATED, READY };

/* The watcher context of one handle; the generation tells stale events apart. */
struct hctx {
    struct group *g;
    int gen;
    int reconnect; /* ProcessWatcher::reconnect */
};

struct group {
    const char *name;
    const char *servers;
    const char *znode;
    const char *auth; /* "user:pass" or NULL */
    int session_ms;
    struct ACL_vector *acl;
    struct queue inbox;
    struct queue *owner; /* the actor */
    int has_watcher;     /* a LeaderDetector watches this group */
    pthread_t thread;

    zhandle_t *zh;
    int gen;
    enum gstate state;
    char *error; /* set by abort(): the group is unusable */
    int retrying;

    int connect_timer; /* connectTimer.isSome() */
    int connect_fired; /* it fired already (a Mesos timer fires once) */
    int64_t connect_at;
    int64_t connect_session; /* the session id it was armed for */

    int ntimers; /* pending delay(..., retry, duration) */
    int64_t retry_at[MAX_TIMERS];
    int retry_ms[MAX_TIMERS];

    struct fifo joins, cancels, datas;

    int cached; /* memberships.isSome() */
    int nmembers;
    struct membership members[MAX_MEMBERS];
    int nowned;
    struct membership owned[MAX_MEMBERS];
    /* The set the watching LeaderDetector last received (its `expected`). */
    int ndelivered;
    struct membership delivered[MAX_MEMBERS];
    int stopped;
};

static int retryable(int rc)
{
    /* zookeeper.cpp: ZooKeeper::retryable */
    return rc == ZCONNECTIONLOSS || rc == ZOPERATIONTIMEOUT || rc == ZSESSIONEXPIRED ||
           rc == ZSESSIONMOVED;
}

/* `code == ZINVALIDSTATE || (code != ZOK && zk->retryable(code))` */
static int try_again(struct group *g, int rc)
{
    if (rc == ZINVALIDSTATE || (rc != ZOK && retryable(rc))) {
        CHECK(zoo_state(g->zh) != ZOO_AUTH_FAILED_STATE);
        return 1;
    }
    return 0;
}

static void watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    struct hctx *c = ctx;
    struct msg *m;
    (void)zh;
    if (!c)
        return;
    m = msg_new(EV_SESSION);
    m->gen = c->gen;
    m->type = type;
    m->state = state;
    if (type == ZOO_SESSION_EVENT) {
        if (state == ZOO_CONNECTED_STATE) {
            m->reconnect = c->reconnect;
            c->reconnect = 0;
        } else if (state == ZOO_CONNECTING_STATE) {
            c->reconnect = 1;
        } else if (state == ZOO_EXPIRED_SESSION_STATE) {
            c->reconnect = 0;
        }
    } else if (type == ZOO_CHILD_EVENT || type == ZOO_CHANGED_EVENT) {
        m->kind = EV_CHILD;
        m->text = xstrdup(path);
    } else {
        m->kind = EV_NODE;
        m->text = xstrdup(path);
    }
    q_push(&c->g->inbox, m);
}

static void arm_retry(struct group *g, int ms)
{
    CHECK(g->ntimers < MAX_TIMERS);
    g->retry_at[g->ntimers] = now_ms() + ms;
    g->retry_ms[g->ntimers] = ms;
    g->ntimers++;
}

/* `if (!retrying) { delay(RETRY_INTERVAL, retry, RETRY_INTERVAL); retrying = true; }` */
static void retry_later(struct group *g)
{
    if (!g->retrying) {
        arm_retry(g, RETRY_INTERVAL_MS);
        g->retrying = 1;
    }
}

/* delay(zk->getSessionTimeout(), timedout, zk->getSessionId()) */
static void arm_connect_timer(struct group *g)
{
    g->connect_timer = 1;
    g->connect_fired = 0;
    g->connect_at = now_ms() + zoo_recv_timeout(g->zh);
    g->connect_session = zoo_client_id(g->zh)->client_id;
}

static void start_connection(struct group *g)
{
    struct hctx *c = xcalloc(1, sizeof *c); /* leaked on purpose: late callbacks */
    int64_t until = now_ms() + 10 * 60 * 1000;
    c->g = g;
    c->gen = ++g->gen;
    for (;;) {
        g->zh = zookeeper_init(g->servers, watcher, g->session_ms, NULL, c, 0);
        /* zookeeper.cpp: retry EINVAL/ENOENT (DNS) every second for 10 minutes */
        if (!g->zh && (errno == EINVAL || errno == ENOENT) && now_ms() < until) {
            sleep(1);
            continue;
        }
        break;
    }
    if (!g->zh)
        exit_failure("FATAL Failed to create ZooKeeper, zookeeper_init: %s", strerror(errno));
    g->state = CONNECTING;
    /* MESOS-4546: if not connected within the session timeout, start over. */
    CHECK(!g->connect_timer);
    arm_connect_timer(g);
}

static int same_set(const struct membership *a, int na, const struct membership *b, int nb)
{
    int i;
    if (na != nb)
        return 0;
    for (i = 0; i < na; i++)
        if (a[i].seq != b[i].seq)
            return 0;
    return 1;
}

/* update(): satisfy the pending watch (the detector's) if the set differs from its `expected`. */
static void update(struct group *g)
{
    struct msg *m;
    CHECK(g->cached);
    if (!g->has_watcher || same_set(g->members, g->nmembers, g->delivered, g->ndelivered))
        return;
    m = msg_new(M_MEMBERS);
    m->group = g;
    m->n = g->nmembers;
    m->set = xcalloc((size_t)(g->nmembers + 1), sizeof *m->set);
    memcpy(m->set, g->members, (size_t)g->nmembers * sizeof *m->set);
    memcpy(g->delivered, g->members, (size_t)g->nmembers * sizeof *m->set);
    g->ndelivered = g->nmembers;
    q_push(g->owner, m);
}

static void post_cancelled(struct group *g, const struct membership *mm, int requested)
{
    struct msg *m = msg_new(M_CANCELLED);
    m->group = g;
    m->m = *mm;
    m->flag = requested;
    q_push(g->owner, m);
}

static void reply(struct group *g, enum kind kind, const struct membership *mm, const char *text,
                  int flag)
{
    struct msg *m = msg_new(kind);
    m->group = g;
    if (mm)
        m->m = *mm;
    if (text)
        m->text = xstrdup(text);
    m->flag = flag;
    q_push(g->owner, m);
}

static void zk_basename(const struct membership *m, char *buf, size_t len)
{
    if (m->has_label)
        snprintf(buf, len, "%s_%010d", m->label, m->seq);
    else
        snprintf(buf, len, "%010d", m->seq);
}

/* stout numify<int32_t>: the whole token must be a (decimal) number. */
static int numify(const char *s, int32_t *out_seq)
{
    char *end;
    long long v;
    if (!*s)
        return 0;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (*end || errno || v < INT32_MIN || v > INT32_MAX)
        return 0;
    *out_seq = (int32_t)v;
    return 1;
}

static int cmp_membership(const void *a, const void *b)
{
    const struct membership *x = a, *y = b;
    return (x->seq > y->seq) - (x->seq < y->seq);
}

/* A child name as a membership: tokens split on '_' (empty ones skipped), the label is
 * the first token when there are several, the sequence the last token. */
static int parse_child(const char *name, struct membership *m)
{
    char copy[256];
    char *tokens[64];
    int n = 0;
    char *save = NULL, *tok;
    snprintf(copy, sizeof copy, "%s", name);
    for (tok = strtok_r(copy, "_", &save); tok && n < 64; tok = strtok_r(NULL, "_", &save))
        tokens[n++] = tok;
    if (n == 0 || !numify(tokens[n - 1], &m->seq))
        return 0;
    m->has_label = n > 1;
    if (m->has_label)
        snprintf(m->label, sizeof m->label, "%s", tokens[0]);
    else
        m->label[0] = '\0';
    return 1;
}

static void print_members(struct group *g)
{
    char line[8192];
    size_t used = 0;
    int i;
    line[0] = '\0';
    for (i = 0; i < g->nmembers && used + 16 < sizeof line; i++)
        used += (size_t)snprintf(line + used, sizeof line - used, "%s%010d", i ? "," : "",
                                 g->members[i].seq);
    out("MEMBERS %s %s", g->name, g->nmembers ? line : "-");
}

/* cache(): 1 = cached, 0 = retry later, -1 = error (text in *err). */
static int cache(struct group *g, char **err)
{
    struct String_vector children = {0, NULL};
    struct membership found[MAX_MEMBERS];
    int nfound = 0, i, j, rc;
    g->cached = 0;
    rc = zoo_get_children(g->zh, g->znode, 1, &children); /* sets the watch */
    if (try_again(g, rc))
        return 0;
    if (rc != ZOK) {
        char buf[512];
        snprintf(buf, sizeof buf,
                 "Non-retryable error attempting to get children of '%s' in ZooKeeper: %s",
                 g->znode, zerror(rc));
        *err = xstrdup(buf);
        return -1;
    }
    for (i = 0; i < children.count && nfound < MAX_MEMBERS; i++) {
        struct membership m;
        int dup = 0;
        if (!parse_child(children.data[i], &m))
            continue; /* "Found non-sequence node" */
        for (j = 0; j < nfound; j++) {
            if (found[j].seq == m.seq) {
                found[j] = m; /* sequences[sequence] = label */
                dup = 1;
            }
        }
        if (!dup)
            found[nfound++] = m;
    }
    deallocate_String_vector(&children);
    qsort(found, (size_t)nfound, sizeof found[0], cmp_membership);
    /* Owned memberships that are gone are cancelled (not requested). */
    for (i = 0; i < g->nowned;) {
        int present = 0;
        for (j = 0; j < nfound; j++)
            if (found[j].seq == g->owned[i].seq)
                present = 1;
        if (!present) {
            post_cancelled(g, &g->owned[i], 0);
            g->owned[i] = g->owned[--g->nowned];
        } else {
            i++;
        }
    }
    memcpy(g->members, found, (size_t)nfound * sizeof found[0]);
    g->nmembers = nfound;
    g->cached = 1;
    print_members(g);
    return 1;
}

/* Blocks on zoo_add_auth's completion, as ZooKeeper::authenticate(...).get() does. */
struct auth_wait {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    int done, rc;
};

static void auth_done(int rc, const void *data)
{
    struct auth_wait *w = (struct auth_wait *)data;
    pthread_mutex_lock(&w->mu);
    w->rc = rc;
    w->done = 1;
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->mu);
}

static int add_auth_sync(zhandle_t *zh, const char *cred, int limit_ms)
{
    /* Never freed: a completion may still come after the wait gave up. */
    struct auth_wait *w = xcalloc(1, sizeof *w);
    pthread_condattr_t attr;
    int rc;
    int64_t deadline = now_ms() + limit_ms;
    pthread_mutex_init(&w->mu, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cond, &attr);
    rc = zoo_add_auth(zh, "digest", cred, (int)strlen(cred), auth_done, w);
    if (rc != ZOK)
        return rc;
    pthread_mutex_lock(&w->mu);
    while (!w->done && now_ms() < deadline) {
        struct timespec ts;
        ts.tv_sec = deadline / 1000;
        ts.tv_nsec = (long)(deadline % 1000) * 1000000L;
        pthread_cond_timedwait(&w->cond, &w->mu, &ts);
    }
    rc = w->done ? w->rc : ZOPERATIONTIMEOUT;
    pthread_mutex_unlock(&w->mu);
    return rc;
}

/* authenticate(): 1 ok, 0 retry, -1 error */
static int authenticate(struct group *g, char **err)
{
    CHECK(g->state == CONNECTED);
    if (g->auth) {
        /* Mesos waits without a limit; a completion lost with an expired session would
         * hang it, so this waits two session timeouts and then retries. */
        int rc = add_auth_sync(g->zh, g->auth, 2 * g->session_ms);
        if (try_again(g, rc))
            return 0;
        if (rc != ZOK) {
            char buf[256];
            snprintf(buf, sizeof buf, "Failed to authenticate with ZooKeeper: %s", zerror(rc));
            *err = xstrdup(buf);
            return -1;
        }
    }
    g->state = AUTHENTICATED;
    return 1;
}

/* ZooKeeperProcess::create(..., recursive=true): exists, else parents, then create. */
static int create_recursive(struct group *g, const char *path, const char *data, int flags)
{
    struct Stat st;
    const char *slash;
    int rc = zoo_exists(g->zh, path, 0, &st);
    if (rc == ZOK)
        return ZNODEEXISTS;
    slash = strrchr(path, '/');
    if (slash && slash != path) {
        char parent[512];
        snprintf(parent, sizeof parent, "%.*s", (int)(slash - path), path);
        rc = create_recursive(g, parent, "", 0);
        if (rc != ZOK && rc != ZNODEEXISTS)
            return rc;
    }
    return zoo_create(g->zh, path, data, (int)strlen(data), g->acl, flags, NULL, 0);
}

static int create_base(struct group *g, char **err)
{
    int rc;
    CHECK(g->state == AUTHENTICATED);
    rc = create_recursive(g, g->znode, "", 0);
    if (try_again(g, rc))
        return 0;
    if (rc != ZOK && rc != ZNODEEXISTS) {
        char buf[512];
        snprintf(buf, sizeof buf, "Failed to create '%s' in ZooKeeper: %s", g->znode,
                 zerror(rc));
        *err = xstrdup(buf);
        return -1;
    }
    g->state = READY;
    return 1;
}

/* doJoin(): 1 joined (*out), 0 retry, -1 error */
static int do_join(struct group *g, const char *data, const struct membership *label,
                   struct membership *joined, char **err)
{
    char path[512], result[512];
    const char *base;
    int rc;
    CHECK(g->state == READY);
    snprintf(path, sizeof path, "%s/%s%s", g->znode, label->has_label ? label->label : "",
             label->has_label ? "_" : "");
    rc = zoo_create(g->zh, path, data, (int)strlen(data), g->acl, ZOO_SEQUENCE | ZOO_EPHEMERAL,
                    result, sizeof result);
    if (try_again(g, rc))
        return 0;
    if (rc != ZOK) {
        char buf[512];
        snprintf(buf, sizeof buf, "Failed to create ephemeral node at '%s' in ZooKeeper: %s",
                 g->znode, zerror(rc));
        *err = xstrdup(buf);
        return -1;
    }
    g->cached = 0; /* invalidate: the child watch refreshes it */
    base = strrchr(result, '/');
    base = base ? base + 1 : result;
    if (label->has_label) {
        size_t n = strlen(label->label);
        CHECK(strncmp(base, label->label, n) == 0 && base[n] == '_');
        base += n + 1;
    }
    *joined = *label;
    CHECK(numify(base, &joined->seq));
    CHECK(g->nowned < MAX_MEMBERS);
    g->owned[g->nowned++] = *joined;
    return 1;
}

static int owned_index(struct group *g, int32_t seq)
{
    int i;
    for (i = 0; i < g->nowned; i++)
        if (g->owned[i].seq == seq)
            return i;
    return -1;
}

/* doCancel(): 1 cancelled, 2 already gone (false), 0 retry, -1 error */
static int do_cancel(struct group *g, const struct membership *m, char **err)
{
    char name[128], path[512];
    int rc, i;
    CHECK(g->state == READY);
    zk_basename(m, name, sizeof name);
    snprintf(path, sizeof path, "%s/%s", g->znode, name);
    rc = zoo_delete(g->zh, path, -1);
    if (try_again(g, rc))
        return 0;
    if (rc == ZNONODE)
        return 2;
    if (rc != ZOK) {
        char buf[1024];
        snprintf(buf, sizeof buf, "Failed to remove ephemeral node '%s' in ZooKeeper: %s", path,
                 zerror(rc));
        *err = xstrdup(buf);
        return -1;
    }
    g->cached = 0;
    i = owned_index(g, m->seq);
    CHECK(i >= 0);
    post_cancelled(g, &g->owned[i], 1);
    g->owned[i] = g->owned[--g->nowned];
    return 1;
}

/* doData(): 1 data (*data, NULL when the node is gone), 0 retry, -1 error */
static int do_data(struct group *g, const struct membership *m, char **data, char **err)
{
    char name[128], path[512];
    char *buf;
    int len = DATA_BUFFER, rc;
    CHECK(g->state == READY);
    zk_basename(m, name, sizeof name);
    snprintf(path, sizeof path, "%s/%s", g->znode, name);
    buf = xcalloc(1, DATA_BUFFER + 1);
    rc = zoo_get(g->zh, path, 0, buf, &len, NULL);
    if (rc == ZNONODE) {
        free(buf);
        *data = NULL;
        return 1;
    }
    if (try_again(g, rc)) {
        free(buf);
        return 0;
    }
    if (rc != ZOK) {
        char e[1024];
        free(buf);
        snprintf(e, sizeof e, "Failed to get data for ephemeral node '%s' in ZooKeeper: %s", path,
                 zerror(rc));
        *err = xstrdup(e);
        return -1;
    }
    buf[len < 0 ? 0 : len] = '\0';
    *data = buf;
    return 1;
}

/* sync(): 1 ok, 0 retry later, -1 error */
static int group_sync(struct group *g, char **err)
{
    struct msg *m;
    int r;
    CHECK(g->state == CONNECTED || g->state == AUTHENTICATED || g->state == READY);
    if (g->state == CONNECTED && (r = authenticate(g, err)) != 1)
        return r;
    if (g->state == AUTHENTICATED && (r = create_base(g, err)) != 1)
        return r;
    while ((m = g->joins.head)) {
        struct membership joined;
        char *e = NULL;
        r = do_join(g, m->text, &m->m, &joined, &e);
        if (r == 0)
            return 0;
        if (r < 0)
            reply(g, M_JOIN_FAILED, &m->m, e, 0);
        else
            reply(g, M_JOINED, &joined, NULL, 0);
        free(e);
        msg_free(fifo_pop(&g->joins));
    }
    while ((m = g->cancels.head)) {
        char *e = NULL;
        r = do_cancel(g, &m->m, &e);
        if (r == 0)
            return 0;
        if (r < 0)
            reply(g, M_CANCEL_DONE, &m->m, e, -1);
        else
            reply(g, M_CANCEL_DONE, &m->m, NULL, r == 1);
        free(e);
        msg_free(fifo_pop(&g->cancels));
    }
    while ((m = g->datas.head)) {
        char *e = NULL, *data = NULL;
        r = do_data(g, &m->m, &data, &e);
        if (r == 0)
            return 0;
        if (r < 0)
            reply(g, M_DATA_FAILED, &m->m, e, 0);
        else
            reply(g, M_DATA, &m->m, data, data != NULL);
        free(e);
        free(data);
        msg_free(fifo_pop(&g->datas));
    }
    if (!g->cached) {
        r = cache(g, err);
        if (r != 1) {
            CHECK(!g->cached);
            return r;
        }
        update(g);
    }
    return 1;
}

static void close_handle(struct group *g)
{
    if (g->zh) {
        zookeeper_close(g->zh);
        g->zh = NULL;
    }
}

/* abort(): fail everything pending, cancel owned memberships, drop the session. */
static void group_abort(struct group *g, char *message)
{
    struct msg *m;
    int i;
    g->error = message;
    out("ABORT %s %s", g->name, message);
    g->retrying = 0;
    while ((m = fifo_pop(&g->joins))) {
        reply(g, M_JOIN_FAILED, &m->m, message, 0);
        msg_free(m);
    }
    while ((m = fifo_pop(&g->cancels))) {
        reply(g, M_CANCEL_DONE, &m->m, message, -1);
        msg_free(m);
    }
    while ((m = fifo_pop(&g->datas))) {
        reply(g, M_DATA_FAILED, &m->m, message, 0);
        msg_free(m);
    }
    if (g->has_watcher)
        reply(g, M_WATCH_FAILED, NULL, message, 0);
    for (i = 0; i < g->nowned; i++)
        post_cancelled(g, &g->owned[i], 0);
    g->nowned = 0;
    close_handle(g);
}

static void after_sync(struct group *g, int r, char *err)
{
    if (r < 0)
        group_abort(g, err);
    else if (r == 0)
        retry_later(g);
}

static void print_host(struct group *g, int reconnect)
{
    struct sockaddr_storage addr;
    socklen_t len = sizeof addr;
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (zookeeper_get_connected_host(g->zh, (struct sockaddr *)&addr, &len)) {
        if (addr.ss_family == AF_INET) {
            struct sockaddr_in *in = (struct sockaddr_in *)&addr;
            inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
            port = ntohs(in->sin_port);
        } else if (addr.ss_family == AF_INET6) {
            struct sockaddr_in6 *in = (struct sockaddr_in6 *)&addr;
            inet_ntop(AF_INET6, &in->sin6_addr, host, sizeof host);
            port = ntohs(in->sin6_port);
        }
    }
    out("CONNECTED %s %s:%d %llx %s", g->name, host, port,
        (unsigned long long)zoo_client_id(g->zh)->client_id, reconnect ? "reconnect" : "new");
}

static void connected(struct group *g, int reconnect)
{
    char *err = NULL;
    int r;
    if (g->error)
        return;
    if (!reconnect) {
        const clientid_t *id = zoo_client_id(g->zh);
        char pw[33];
        int i;
        CHECK(g->state == CONNECTING);
        g->state = CONNECTED;
        for (i = 0; i < 16; i++)
            snprintf(pw + 2 * i, 3, "%02x", (unsigned char)id->passwd[i]);
        out("SESSION %s %llx %s %d", g->name, (unsigned long long)id->client_id, pw,
            zoo_recv_timeout(g->zh));
    } else {
        CHECK(g->state == CONNECTED || g->state == AUTHENTICATED || g->state == READY);
    }
    print_host(g, reconnect);
    CHECK(g->connect_timer);
    g->connect_timer = 0;
    r = group_sync(g, &err);
    after_sync(g, r, err);
}

static void reconnecting(struct group *g)
{
    if (g->error)
        return;
    out("CONNECTING %s", g->name);
    g->retrying = 0;
    CHECK(!g->connect_timer);
    arm_connect_timer(g); /* with the negotiated session timeout */
}

static void expired(struct group *g)
{
    int i;
    if (g->error)
        return;
    g->retrying = 0;
    g->connect_timer = 0;
    /* Locally every membership is gone: watchers see the empty set. */
    g->nmembers = 0;
    g->cached = 1;
    update(g);
    g->cached = 0;
    for (i = 0; i < g->nowned; i++)
        post_cancelled(g, &g->owned[i], 0);
    g->nowned = 0;
    g->state = DISCONNECTED;
    close_handle(g);
    start_connection(g);
}

static void timedout(struct group *g, int64_t session)
{
    if (g->error || !g->zh)
        return;
    if (g->connect_timer && now_ms() >= g->connect_at &&
        zoo_client_id(g->zh)->client_id == session) {
        out("TIMEDOUT %s", g->name);
        expired(g);
    }
}

static void updated(struct group *g, const char *path)
{
    char *err = NULL;
    int r;
    if (g->error)
        return;
    CHECK(strcmp(path, g->znode) == 0);
    r = cache(g, &err);
    if (r < 0) {
        group_abort(g, err);
    } else if (r == 0) {
        CHECK(!g->cached);
        retry_later(g);
    } else {
        update(g);
    }
}

static void retry(struct group *g, int duration_ms)
{
    char *err = NULL;
    int r;
    if (!g->retrying)
        return;
    CHECK(!g->error);
    CHECK(g->state == CONNECTED || g->state == AUTHENTICATED || g->state == READY);
    g->retrying = 0;
    r = group_sync(g, &err);
    if (r < 0) {
        group_abort(g, err);
    } else if (r == 0) {
        int next = duration_ms * 2 < RETRY_MAX_MS ? duration_ms * 2 : RETRY_MAX_MS;
        g->retrying = 1;
        arm_retry(g, next);
    }
}

static void join(struct group *g, struct msg *m)
{
    struct membership joined;
    char *err = NULL;
    int r;
    if (g->error) {
        reply(g, M_JOIN_FAILED, &m->m, g->error, 0);
        msg_free(m);
        return;
    }
    if (g->state != READY) {
        fifo_push(&g->joins, m);
        return;
    }
    r = do_join(g, m->text, &m->m, &joined, &err);
    if (r == 0) {
        retry_later(g);
        fifo_push(&g->joins, m);
        return;
    }
    if (r < 0)
        reply(g, M_JOIN_FAILED, &m->m, err, 0);
    else
        reply(g, M_JOINED, &joined, NULL, 0);
    free(err);
    msg_free(m);
}

static void cancel(struct group *g, struct msg *m)
{
    char *err = NULL;
    int r;
    if (g->error) {
        reply(g, M_CANCEL_DONE, &m->m, g->error, -1);
        msg_free(m);
        return;
    }
    if (owned_index(g, m->m.seq) < 0) {
        reply(g, M_CANCEL_DONE, &m->m, NULL, 0);
        msg_free(m);
        return;
    }
    if (g->state != READY) {
        fifo_push(&g->cancels, m);
        return;
    }
    r = do_cancel(g, &m->m, &err);
    if (r == 0) {
        retry_later(g);
        fifo_push(&g->cancels, m);
        return;
    }
    if (r < 0)
        reply(g, M_CANCEL_DONE, &m->m, err, -1);
    else
        reply(g, M_CANCEL_DONE, &m->m, NULL, r == 1);
    free(err);
    msg_free(m);
}

static void data(struct group *g, struct msg *m)
{
    char *err = NULL, *d = NULL;
    int r;
    if (g->error) {
        reply(g, M_DATA_FAILED, &m->m, g->error, 0);
        msg_free(m);
        return;
    }
    if (g->state != READY) {
        fifo_push(&g->datas, m);
        return;
    }
    r = do_data(g, &m->m, &d, &err);
    if (r == 0) {
        /* data() queues it without scheduling a retry (group.cpp) */
        fifo_push(&g->datas, m);
        return;
    }
    if (r < 0)
        reply(g, M_DATA_FAILED, &m->m, err, 0);
    else
        reply(g, M_DATA, &m->m, d, d != NULL);
    free(err);
    free(d);
    msg_free(m);
}

static void handle(struct group *g, struct msg *m)
{
    switch (m->kind) {
    case EV_SESSION:
        /* ProcessWatcher + the `sessionId != zk->getSessionId()` staleness checks */
        if (m->gen == g->gen && g->zh) {
            if (m->state == ZOO_CONNECTED_STATE) {
                connected(g, m->reconnect);
            } else if (m->state == ZOO_CONNECTING_STATE) {
                reconnecting(g);
            } else if (m->state == ZOO_EXPIRED_SESSION_STATE) {
                if (!g->error) {
                    out("EXPIRED %s", g->name);
                    expired(g);
                }
            } else {
                exit_failure("FATAL Unhandled ZooKeeper state (%d) for ZOO_SESSION_EVENT",
                             m->state);
            }
        }
        break;
    case EV_CHILD:
        if (m->gen == g->gen && g->zh)
            updated(g, m->text);
        break;
    case EV_NODE:
        exit_failure("FATAL Unexpected ZooKeeper event (%d) for %s", m->type, m->text);
        break;
    case REQ_JOIN:
        join(g, m);
        return;
    case REQ_CANCEL:
        cancel(g, m);
        return;
    case REQ_DATA:
        data(g, m);
        return;
    case REQ_STOP:
        close_handle(g);
        g->stopped = 1;
        break;
    default:
        break;
    }
    msg_free(m);
}

/* Runs one timer that is due; 1 if one ran. */
static int fire_due_timer(struct group *g)
{
    int64_t now = now_ms();
    int i;
    if (g->connect_timer && !g->connect_fired && now >= g->connect_at) {
        g->connect_fired = 1;
        timedout(g, g->connect_session);
        return 1;
    }
    for (i = 0; i < g->ntimers; i++) {
        if (now >= g->retry_at[i]) {
            int ms = g->retry_ms[i];
            g->retry_at[i] = g->retry_at[g->ntimers - 1];
            g->retry_ms[i] = g->retry_ms[g->ntimers - 1];
            g->ntimers--;
            retry(g, ms);
            return 1;
        }
    }
    return 0;
}

static void *group_main(void *arg)
{
    struct group *g = arg;
    start_connection(g);
    while (!g->stopped) {
        int64_t next = -1;
        int i;
        struct msg *m;
        if (fire_due_timer(g))
            continue;
        if (g->connect_timer && !g->connect_fired)
            next = g->connect_at;
        for (i = 0; i < g->ntimers; i++)
            if (next < 0 || g->retry_at[i] < next)
                next = g->retry_at[i];
        m = q_pop(&g->inbox, next);
        if (m)
            handle(g, m);
    }
    return NULL;
}

static struct group *group_new(const char *name, const char *servers, const char *znode,
                               int session_ms, const char *auth, struct ACL_vector *acl,
                               struct queue *owner, int has_watcher)
{
    struct group *g = xcalloc(1, sizeof *g);
    size_t len;
    char *path = xstrdup(znode);
    /* strings::remove(znode, "/", SUFFIX) */
    len = strlen(path);
    if (len > 0 && path[len - 1] == '/')
        path[len - 1] = '\0';
    g->name = name;
    g->servers = servers;
    g->znode = path;
    g->session_ms = session_ms;
    g->auth = auth;
    g->acl = acl;
    g->owner = owner;
    g->has_watcher = has_watcher;
    q_init(&g->inbox);
    return g;
}

static void group_spawn(struct group *g)
{
    if (pthread_create(&g->thread, NULL, group_main, g) != 0)
        exit_failure("FATAL pthread_create");
}

/* ---- the actor: LeaderContender, LeaderDetector, MasterDetector, Master ------ */

enum role { MASTER, AGENT, SCHEDULER };

struct actor {
    enum role role;
    const char *name;
    struct queue inbox;
    struct group *contender; /* master only */
    struct group *detector;
    char *info; /* this master's MasterInfo JSON */

    /* ZooKeeperMasterContender / LeaderContender */
    int candidacy; /* 0 none, 1 pending (joining), 2 obtained */
    struct membership cand;

    /* LeaderDetector */
    int ld_has;
    struct membership ld_leader;

    /* ZooKeeperMasterDetector: the leading MasterInfo (NULL = None) */
    char *md_leader;
    int32_t md_seq;

    /* Master: its view of the leader */
    char *leader;
};

static int elected(struct actor *a)
{
    return a->info && a->leader && strcmp(a->leader, a->info) == 0;
}

/* The value of a "key":"string" in compact JSON (good enough for MasterInfo). */
static void json_string(const char *json, const char *key, char *out_buf, size_t len)
{
    char pattern[64];
    const char *p, *end;
    snprintf(pattern, sizeof pattern, "\"%s\":\"", key);
    out_buf[0] = '\0';
    /* the top-level "hostname" comes after "address":{...}: take the last match */
    p = NULL;
    for (end = strstr(json, pattern); end; end = strstr(end + 1, pattern))
        p = end;
    if (!p)
        return;
    p += strlen(pattern);
    end = strchr(p, '"');
    if (!end)
        return;
    snprintf(out_buf, len, "%.*s", (int)(end - p), p);
}

static void master_detected(struct actor *a, const char *info)
{
    int was = elected(a);
    free(a->leader);
    a->leader = info ? xstrdup(info) : NULL;
    if (elected(a)) {
        if (!was)
            out("ELECTED %010d", a->md_seq);
        else
            out("REELECTED %010d", a->md_seq);
    } else if (a->leader) {
        if (was)
            exit_failure("Conceded leadership to another master... committing suicide!");
    } else {
        if (was)
            exit_failure("Lost leadership after indecisive election... committing suicide!");
    }
}

/* ZooKeeperMasterDetectorProcess: a new leading MasterInfo (or None) for the consumer. */
static void md_set(struct actor *a, int32_t seq, const char *info, const char *name)
{
    free(a->md_leader);
    a->md_leader = info ? xstrdup(info) : NULL;
    a->md_seq = seq;
    if (info)
        out("DETECTED %010d %s", seq, name);
    else
        out("DETECTED none -");
    if (a->role == MASTER)
        master_detected(a, info);
}

static void md_fail(struct actor *a, const char *why)
{
    (void)a;
    /* Every consumer EXITs when detection fails. */
    exit_failure("Failed to detect the leading master: %s; committing suicide!", why);
}

/* LeaderDetectorProcess::watched: leader = the lowest sequence. */
static void ld_watched(struct actor *a, const struct membership *set, int n)
{
    int has = n > 0;
    if (has == a->ld_has && (!has || set[0].seq == a->ld_leader.seq))
        return; /* the incumbent wins: nothing is reported */
    a->ld_has = has;
    if (has)
        a->ld_leader = set[0];
    /* ZooKeeperMasterDetectorProcess::detected */
    if (!has) {
        md_set(a, -1, NULL, NULL);
    } else {
        struct msg *m = msg_new(REQ_DATA);
        m->m = set[0];
        q_push(&a->detector->inbox, m);
    }
}

/* ZooKeeperMasterDetectorProcess::fetched */
static void md_fetched(struct actor *a, const struct membership *m, const char *data)
{
    char name[128];
    if (!data) {
        md_set(a, -1, NULL, NULL); /* membership gone before we could read it */
        return;
    }
    if (!m->has_label) {
        snprintf(name, sizeof name, "%s", data); /* old format: a UPID */
    } else if (strcmp(m->label, MASTER_INFO_LABEL) == 0) {
        snprintf(name, sizeof name, "protobuf"); /* binary MasterInfo, not parsed here */
    } else if (strcmp(m->label, MASTER_INFO_JSON_LABEL) == 0) {
        size_t len = strlen(data);
        if (len < 2 || data[0] != '{' || data[len - 1] != '}' || !strstr(data, "\"id\":") ||
            !strstr(data, "\"ip\":") || !strstr(data, "\"port\":"))
            md_fail(a, "Failed to parse JSON into a valid MasterInfo protocol buffer");
        json_string(data, "hostname", name, sizeof name);
        if (!name[0])
            snprintf(name, sizeof name, "?");
    } else {
        char why[160];
        snprintf(why, sizeof why, "Failed to parse data of unknown label '%s'", m->label);
        md_fail(a, why);
        return;
    }
    md_set(a, m->seq, data, name);
}

/* ZooKeeperMasterContenderProcess::contend */
static void contend(struct actor *a)
{
    struct msg *m;
    if (a->candidacy == 1)
        return; /* the last election is still ongoing */
    if (a->candidacy == 2) {
        /* "Withdrawing the previous membership before recontending": the old
         * LeaderContender's finalize() cancels its membership (result ignored). */
        m = msg_new(REQ_CANCEL);
        m->m = a->cand;
        q_push(&a->contender->inbox, m);
    }
    m = msg_new(REQ_JOIN);
    m->text = xstrdup(a->info);
    m->m.has_label = 1;
    snprintf(m->m.label, sizeof m->m.label, "%s", MASTER_INFO_JSON_LABEL);
    a->candidacy = 1;
    q_push(&a->contender->inbox, m);
}

static volatile int stopping;

static void stop_gracefully(struct actor *a)
{
    struct group *groups[2] = {a->contender, a->detector};
    int i;
    for (i = 0; i < 2; i++) {
        if (groups[i])
            q_push(&groups[i]->inbox, msg_new(REQ_STOP));
    }
    for (i = 0; i < 2; i++) {
        if (groups[i])
            pthread_join(groups[i]->thread, NULL);
    }
    out("EXIT sigterm");
    exit(0);
}

static void actor_handle(struct actor *a, struct msg *m)
{
    switch (m->kind) {
    case M_MEMBERS:
        if (m->group == a->detector)
            ld_watched(a, m->set, m->n);
        break;
    case M_WATCH_FAILED:
        if (m->group == a->detector)
            md_fail(a, m->text);
        break;
    case M_DATA:
        md_fetched(a, &m->m, m->flag ? m->text : NULL);
        break;
    case M_DATA_FAILED:
        md_fail(a, m->text);
        break;
    case M_JOINED:
        a->candidacy = 2;
        a->cand = m->m;
        out("JOINED %010d", m->m.seq);
        break;
    case M_JOIN_FAILED:
        exit_failure("Failed to contend: %s", m->text);
        break;
    case M_CANCELLED:
        /* LeaderContenderProcess::cancelled -> Master::lostCandidacy */
        if (m->group == a->contender && a->candidacy == 2 && m->m.seq == a->cand.seq) {
            out("LOST_CANDIDACY %010d", m->m.seq);
            if (elected(a))
                exit_failure("Lost candidacy as a leader... committing suicide!");
            contend(a);
        }
        break;
    case M_CANCEL_DONE:
        break;
    case M_SIGNAL:
        stop_gracefully(a);
        break;
    default:
        break;
    }
    msg_free(m);
}

static struct queue *signal_target;
static sigset_t stop_signals;

static void *signal_main(void *arg)
{
    int sig;
    (void)arg;
    for (;;) {
        if (sigwait(&stop_signals, &sig) == 0 && !stopping) {
            stopping = 1;
            q_push(signal_target, msg_new(M_SIGNAL));
        }
    }
    return NULL;
}

static struct ACL erca_acl[2];
static struct ACL_vector EVERYONE_READ_CREATOR_ALL = {2, erca_acl};

static int run_actor(enum role role, const char *name, const char *servers, const char *znode,
                     int session_ms, const char *auth)
{
    struct actor *a = xcalloc(1, sizeof *a);
    struct ACL_vector *acl = auth ? &EVERYONE_READ_CREATOR_ALL : &ZOO_OPEN_ACL_UNSAFE;
    pthread_t sig_thread;

    erca_acl[0].perms = ZOO_PERM_READ;
    erca_acl[0].id = ZOO_ANYONE_ID_UNSAFE;
    erca_acl[1].perms = ZOO_PERM_ALL;
    erca_acl[1].id = ZOO_AUTH_IDS;

    a->role = role;
    a->name = name;
    q_init(&a->inbox);
    signal_target = &a->inbox;
    out("START %s %s %d", role == MASTER ? "master" : role == AGENT ? "agent" : "scheduler",
        name, (int)getpid());

    if (pthread_create(&sig_thread, NULL, signal_main, NULL) != 0)
        exit_failure("FATAL pthread_create");

    if (role == MASTER) {
        char info[2048];
        unsigned long long r = ((unsigned long long)getpid() << 32) ^ (unsigned long long)now_ms();
        snprintf(info, sizeof info,
                 "{\"address\":{\"hostname\":\"%s\",\"ip\":\"127.0.0.1\",\"port\":5050},"
                 "\"capabilities\":[{\"type\":\"AGENT_UPDATE\"},{\"type\":\"AGENT_DRAINING\"},"
                 "{\"type\":\"QUOTA_V2\"}],\"hostname\":\"%s\","
                 "\"id\":\"%08llx-%04llx-4%03llx-8%03llx-%012llx\",\"ip\":16777343,"
                 "\"pid\":\"master@127.0.0.1:5050\",\"port\":5050,\"version\":\"1.11.0\"}",
                 name, name, r & 0xffffffffULL, (r >> 8) & 0xffffULL, (r >> 20) & 0xfffULL,
                 (r >> 32) & 0xfffULL, (unsigned long long)getpid() * 1000003ULL);
        a->info = xstrdup(info);
        /* MasterContender::create and MasterDetector::create each build a Group. */
        a->contender = group_new("contender", servers, znode, session_ms, auth, acl, &a->inbox, 0);
    }
    a->detector = group_new("detector", servers, znode, session_ms, auth, acl, &a->inbox, 1);
    if (a->contender)
        group_spawn(a->contender);
    group_spawn(a->detector);
    /* Master::initialize: contender->contend(), detector->detect() */
    if (role == MASTER)
        contend(a);
    for (;;) {
        struct msg *m = q_pop(&a->inbox, -1);
        if (m)
            actor_handle(a, m);
    }
    return 0;
}

/* ---- helpers for the test: expire someone's session, inspect a group ----------- */

struct simple {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    int state;
};

static void simple_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    struct simple *s = ctx;
    (void)zh;
    (void)path;
    if (type != ZOO_SESSION_EVENT)
        return;
    pthread_mutex_lock(&s->mu);
    s->state = state;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->mu);
}

/* Waits for CONNECTED or EXPIRED (or ms); returns the last session state. */
static int simple_wait(struct simple *s, int ms)
{
    int64_t deadline = now_ms() + ms;
    int st;
    pthread_mutex_lock(&s->mu);
    while (s->state != ZOO_CONNECTED_STATE && s->state != ZOO_EXPIRED_SESSION_STATE &&
           now_ms() < deadline) {
        struct timespec ts;
        ts.tv_sec = deadline / 1000;
        ts.tv_nsec = (long)(deadline % 1000) * 1000000L;
        pthread_cond_timedwait(&s->cond, &s->mu, &ts);
    }
    st = s->state;
    pthread_mutex_unlock(&s->mu);
    return st;
}

static zhandle_t *simple_open(struct simple *s, const char *servers, int session_ms,
                              clientid_t *id)
{
    pthread_condattr_t attr;
    zhandle_t *zh;
    pthread_mutex_init(&s->mu, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cond, &attr);
    s->state = 0;
    zh = zookeeper_init(servers, simple_watcher, session_ms, id, s, 0);
    if (!zh) {
        out("ERROR zookeeper_init %s", strerror(errno));
        exit(2);
    }
    return zh;
}

static int run_expire(const char *servers, const char *id_hex, const char *pw_hex, int session_ms)
{
    struct simple s;
    clientid_t id;
    zhandle_t *zh;
    int i, st;
    memset(&id, 0, sizeof id);
    id.client_id = (int64_t)strtoull(id_hex, NULL, 16);
    if (strlen(pw_hex) != 32) {
        out("ERROR password must be 32 hex digits");
        return 2;
    }
    for (i = 0; i < 16; i++) {
        unsigned int byte;
        sscanf(pw_hex + 2 * i, "%2x", &byte);
        id.passwd[i] = (char)byte;
    }
    zh = simple_open(&s, servers, session_ms, &id);
    st = simple_wait(&s, 2 * session_ms);
    if (st == ZOO_CONNECTED_STATE) {
        const clientid_t *got = zoo_client_id(zh);
        out("EXPIRER connected %llx %s", (unsigned long long)got->client_id,
            got->client_id == id.client_id ? "same" : "other");
        out("EXPIRER closed %d", zookeeper_close(zh));
        return 0;
    }
    out("EXPIRER state %d", st);
    zookeeper_close(zh);
    return st == ZOO_EXPIRED_SESSION_STATE ? 0 : 2;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void print_acl(zhandle_t *zh, const char *path)
{
    struct ACL_vector acl = {0, NULL};
    struct Stat st;
    int i, rc = zoo_get_acl(zh, path, &acl, &st);
    if (rc != ZOK) {
        out("ACL %s error %d", path, rc);
        return;
    }
    for (i = 0; i < acl.count; i++)
        out("ACL %s %d %s %s", path, acl.data[i].perms, acl.data[i].id.scheme,
            acl.data[i].id.id);
    deallocate_ACL_vector(&acl);
}

static int run_inspect(const char *servers, const char *znode, const char *auth)
{
    struct simple s;
    struct String_vector children = {0, NULL};
    zhandle_t *zh = simple_open(&s, servers, 10000, NULL);
    int i, rc;
    if (simple_wait(&s, 10000) != ZOO_CONNECTED_STATE) {
        out("ERROR not connected");
        return 2;
    }
    if (auth && (rc = add_auth_sync(zh, auth, 10000)) != ZOK) {
        out("ERROR add_auth %d", rc);
        return 2;
    }
    rc = zoo_get_children(zh, znode, 0, &children);
    if (rc != ZOK) {
        out("ERROR get_children %d", rc);
        return 2;
    }
    qsort(children.data, (size_t)children.count, sizeof(char *), cmp_str);
    print_acl(zh, znode);
    for (i = 0; i < children.count; i++) {
        char path[512];
        char *buf = xcalloc(1, DATA_BUFFER + 1);
        int len = DATA_BUFFER;
        struct Stat st;
        snprintf(path, sizeof path, "%s/%s", znode, children.data[i]);
        rc = zoo_get(zh, path, 0, buf, &len, &st);
        if (rc == ZOK) {
            buf[len < 0 ? 0 : len] = '\0';
            out("NODE %s %llx %s", children.data[i], (unsigned long long)st.ephemeralOwner,
                len > 0 ? buf : "-");
        } else {
            out("NODE %s error %d", children.data[i], rc);
        }
        free(buf);
        print_acl(zh, path);
    }
    deallocate_String_vector(&children);
    out("DONE");
    zookeeper_close(zh);
    return 0;
}

/* ---- main ------------------------------------------------------------------ */

static int usage(void)
{
    fprintf(stderr,
            "usage: mesos_sim master|agent|scheduler <name> <servers> <znode> <session_ms> "
            "[user:pass]\n"
            "       mesos_sim expire <servers> <session hex> <password hex> <session_ms>\n"
            "       mesos_sim inspect <servers> <znode> [user:pass]\n");
    return 64;
}

int main(int argc, char **argv)
{
    const char *level = getenv("MESOS_SIM_ZK_LOG");

    /* Every thread (ours and the client's) inherits the blocked mask; the signal thread
     * takes SIGTERM and SIGINT with sigwait. */
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    signal(SIGPIPE, SIG_IGN);

    zoo_set_debug_level(level ? (ZooLogLevel)atoi(level) : (ZooLogLevel)0);
    zoo_set_log_stream(stderr);

    if (argc < 2)
        return usage();
    if (strcmp(argv[1], "expire") == 0 && argc == 6)
        return run_expire(argv[2], argv[3], argv[4], atoi(argv[5]));
    if (strcmp(argv[1], "inspect") == 0 && (argc == 4 || argc == 5))
        return run_inspect(argv[2], argv[3], argc == 5 ? argv[4] : NULL);
    if (argc == 6 || argc == 7) {
        enum role role;
        if (strcmp(argv[1], "master") == 0)
            role = MASTER;
        else if (strcmp(argv[1], "agent") == 0)
            role = AGENT;
        else if (strcmp(argv[1], "scheduler") == 0)
            role = SCHEDULER;
        else
            return usage();
        return run_actor(role, argv[2], argv[3], argv[4], atoi(argv[5]),
                         argc == 7 ? argv[6] : NULL);
    }
    return usage();
}
