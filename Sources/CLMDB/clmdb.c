// Fault guard around liblmdb calls: see include/clmdb.h.
#define _GNU_SOURCE
#include "clmdb.h"

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static __thread sigjmp_buf guard_jump;
static __thread volatile sig_atomic_t guard_depth;
static __thread int last_fault;
static __thread unsigned long fault_count;

static struct sigaction previous_segv, previous_bus;
static pthread_once_t install_once = PTHREAD_ONCE_INIT;

/// A fault outside a guarded call goes to the handler that was installed before ours
/// (Swift's crash reporter, a debugger's...), or gets the default action.
static void chain(int sig, siginfo_t *info, void *context) {
    struct sigaction *previous = sig == SIGBUS ? &previous_bus : &previous_segv;
    if (previous->sa_flags & SA_SIGINFO) {
        if (previous->sa_sigaction) { previous->sa_sigaction(sig, info, context); return; }
    } else if (previous->sa_handler != SIG_DFL && previous->sa_handler != SIG_IGN) {
        previous->sa_handler(sig);
        return;
    }
    // Default action: restore it; returning re-executes the faulting instruction, which then kills.
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    sigaction(sig, &dfl, NULL);
}

static void on_fault(int sig, siginfo_t *info, void *context) {
    if (guard_depth > 0) {
        guard_depth = 0;
        last_fault = sig;
        fault_count++;
        siglongjmp(guard_jump, 1);
    }
    chain(sig, info, context);
}

static void install(void) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = on_fault;
    action.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK;
    sigemptyset(&action.sa_mask);
    sigaction(SIGSEGV, &action, &previous_segv);
    sigaction(SIGBUS, &action, &previous_bus);
}

/// LMDB's assert callback runs just before abort(): leave the guarded call instead.
static void on_assert(MDB_env *env, const char *message) {
    (void)env;
    (void)message;
    if (guard_depth > 0) {
        guard_depth = 0;
        last_fault = 0;
        fault_count++;
        siglongjmp(guard_jump, 1);
    }
}

int kmdb_last_fault_signal(void) { return last_fault; }
unsigned long kmdb_thread_fault_count(void) { return fault_count; }

// GUARDED(expr): evaluates expr with the guard armed; KMDB_FAULT if it faulted. Not reentrant
// (LMDB never calls back into us except through on_assert). The signal mask is not saved (no
// system call per LMDB call): the handler runs with SA_NODEFER and an empty sa_mask, so the
// mask at the jump back is the one at sigsetjmp.
#define GUARDED(result, expr)                                  \
    do {                                                       \
        pthread_once(&install_once, install);                  \
        if (sigsetjmp(guard_jump, 0) != 0) {                   \
            result = KMDB_FAULT;                               \
        } else {                                               \
            guard_depth = 1;                                   \
            result = (expr);                                   \
            guard_depth = 0;                                   \
        }                                                      \
    } while (0)

/// Reads one byte of every page `value` spans (and its last byte), so that a value pointing
/// past the end of the file faults here, inside the guard, not later in the caller.
static void touch(const MDB_val *value) {
    if (!value || !value->mv_data || value->mv_size == 0) return;
    const volatile unsigned char *p = (const volatile unsigned char *)value->mv_data;
    size_t page = 4096;
    unsigned char sink = 0;
    for (size_t i = 0; i < value->mv_size; i += page) sink ^= p[i];
    sink ^= p[value->mv_size - 1];
    (void)sink;
}

static int touched(int rc, const MDB_val *key, const MDB_val *data) {
    if (rc == 0) {
        touch(key);
        touch(data);
    }
    return rc;
}

int kmdb_env_open(MDB_env *env, const char *path, unsigned int flags, mdb_mode_t mode) {
    int rc;
    mdb_env_set_assert(env, on_assert);
    GUARDED(rc, mdb_env_open(env, path, flags, mode));
    return rc;
}

int kmdb_env_info(MDB_env *env, MDB_envinfo *info) {
    int rc;
    GUARDED(rc, mdb_env_info(env, info));
    return rc;
}

int kmdb_env_stat(MDB_env *env, MDB_stat *stat) {
    int rc;
    GUARDED(rc, mdb_env_stat(env, stat));
    return rc;
}

int kmdb_env_set_mapsize(MDB_env *env, size_t size) {
    int rc;
    GUARDED(rc, mdb_env_set_mapsize(env, size));
    return rc;
}

int kmdb_txn_begin(MDB_env *env, MDB_txn *parent, unsigned int flags, MDB_txn **txn) {
    int rc;
    GUARDED(rc, mdb_txn_begin(env, parent, flags, txn));
    return rc;
}

int kmdb_txn_commit(MDB_txn *txn) {
    int rc;
    GUARDED(rc, mdb_txn_commit(txn));
    return rc;
}

static int abort_txn(MDB_txn *txn) {
    mdb_txn_abort(txn);
    return 0;
}

void kmdb_txn_abort(MDB_txn *txn) {
    int rc;
    GUARDED(rc, abort_txn(txn));
    (void)rc;
}

int kmdb_dbi_open(MDB_txn *txn, const char *name, unsigned int flags, MDB_dbi *dbi) {
    int rc;
    GUARDED(rc, mdb_dbi_open(txn, name, flags, dbi));
    return rc;
}

int kmdb_get(MDB_txn *txn, MDB_dbi dbi, MDB_val *key, MDB_val *data) {
    int rc;
    GUARDED(rc, touched(mdb_get(txn, dbi, key, data), NULL, data));
    return rc;
}

int kmdb_put(MDB_txn *txn, MDB_dbi dbi, MDB_val *key, MDB_val *data, unsigned int flags) {
    int rc;
    GUARDED(rc, mdb_put(txn, dbi, key, data, flags));
    return rc;
}

int kmdb_del(MDB_txn *txn, MDB_dbi dbi, MDB_val *key, MDB_val *data) {
    int rc;
    GUARDED(rc, mdb_del(txn, dbi, key, data));
    return rc;
}

int kmdb_stat(MDB_txn *txn, MDB_dbi dbi, MDB_stat *stat) {
    int rc;
    GUARDED(rc, mdb_stat(txn, dbi, stat));
    return rc;
}

int kmdb_cursor_open(MDB_txn *txn, MDB_dbi dbi, MDB_cursor **cursor) {
    int rc;
    GUARDED(rc, mdb_cursor_open(txn, dbi, cursor));
    return rc;
}

int kmdb_cursor_get(MDB_cursor *cursor, MDB_val *key, MDB_val *data, MDB_cursor_op op) {
    int rc;
    GUARDED(rc, touched(mdb_cursor_get(cursor, key, data, op), key, data));
    return rc;
}

long long kmdb_env_file_size(MDB_env *env) {
    mdb_filehandle_t fd;
    int rc = mdb_env_get_fd(env, &fd);
    if (rc != 0) { errno = rc; return -1; }
    struct stat st;
    if (fstat(fd, &st) != 0) return -1;
    return (long long)st.st_size;
}

// MARK: - Structure check
//
// LMDB checks little of a page before it changes it: a write into a page whose header or node
// offsets are damaged copies bytes past a page-sized heap buffer. kmdb_env_verify walks every
// page reachable from the current meta page (the free list, the main database, every named
// database) and checks what a write relies on. The layout below is LMDB's on-disk format
// (mdb.c, stable since 0.9): page header 16 bytes, nodes of 8 bytes + key + data.

#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

enum {
    PAGE_HEADER = 16,
    NODE_HEADER = 8,
    P_BRANCH = 0x01, P_LEAF = 0x02, P_OVERFLOW = 0x04,
    F_BIGDATA = 0x01, F_SUBDATA = 0x02, F_DUPDATA = 0x04,
    DB_RECORD = 48,     // MDB_db
    META_DBS = 24,      // offset of mm_dbs[2] inside MDB_meta
    META_LAST_PAGE = 120, // offset of mm_last_pg
    META_TXNID = 128,   // offset of mm_txnid
    MAX_DEPTH = 32,     // LMDB's CURSOR_STACK
};
static const uint64_t P_INVALID = ~(uint64_t)0;

typedef struct {
    const unsigned char *map;
    uint64_t psize, last;
    unsigned char *seen;  // one bit per page
    char *reason;
    size_t reason_size;
} walk_t;

static uint16_t u16(const unsigned char *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static uint32_t u32(const unsigned char *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t u64(const unsigned char *p) { uint64_t v; memcpy(&v, p, 8); return v; }

/// Fills in the reason (every argument an unsigned long long) and returns MDB_CORRUPTED.
static int bad(walk_t *w, const char *format, ...) {
    va_list args;
    va_start(args, format);
    vsnprintf(w->reason, w->reason_size, format, args);
    va_end(args);
    return MDB_CORRUPTED;
}
#define U(x) ((unsigned long long)(x))

/// Marks pages [first, first + count) as reached; a page reached twice is damage.
static int claim(walk_t *w, uint64_t first, uint64_t count) {
    if (first < 2 || count == 0 || first > w->last || count > w->last - first + 1)
        return bad(w, "page %llu (+%llu) is outside the pages in use", U(first), U(count));
    for (uint64_t p = first; p < first + count; p++) {
        if (w->seen[p >> 3] & (1u << (p & 7))) return bad(w, "page %llu is reached twice (%llu pages claimed at once)", U(p), U(count));
        w->seen[p >> 3] |= (unsigned char)(1u << (p & 7));
    }
    return 0;
}

static int walk_db(walk_t *w, const unsigned char *record, int is_main);

static int walk_page(walk_t *w, uint64_t pgno, int depth, int is_main) {
    if (depth > MAX_DEPTH) return bad(w, "the tree is deeper than %llu pages at page %llu", U(MAX_DEPTH), U(pgno));
    int rc = claim(w, pgno, 1);
    if (rc) return rc;
    const unsigned char *page = w->map + pgno * w->psize;
    if (u64(page) != pgno) return bad(w, "page %llu says it is page %llu", U(pgno), U(u64(page)));
    uint16_t flags = u16(page + 10), lower = u16(page + 12), upper = u16(page + 14);
    int branch = (flags & 0x7f) == P_BRANCH, leaf = (flags & 0x7f) == P_LEAF;
    if (!branch && !leaf) return bad(w, "page %llu has flags 0x%llx", U(pgno), U(flags));
    if (lower < PAGE_HEADER || lower > upper || upper > w->psize || (lower - PAGE_HEADER) % 2)
        return bad(w, "page %llu has free space from %llu to %llu", U(pgno), U(lower), U(upper));
    unsigned keys = (lower - PAGE_HEADER) / 2;
    if (branch && keys == 0) return bad(w, "branch page %llu has no keys (depth %llu)", U(pgno), U((unsigned long long)depth));
    for (unsigned i = 0; i < keys; i++) {
        uint16_t offset = u16(page + PAGE_HEADER + 2 * i);
        if (offset < upper || (uint64_t)offset + NODE_HEADER > w->psize)
            return bad(w, "page %llu has a node at offset %llu", U(pgno), U(offset));
        const unsigned char *node = page + offset;
        uint16_t lo = u16(node), hi = u16(node + 2), nflags = u16(node + 4), ksize = u16(node + 6);
        uint64_t key_end = (uint64_t)offset + NODE_HEADER + ksize;
        if (key_end > w->psize) return bad(w, "page %llu has a key running past the page (node %llu)", U(pgno), U(i));
        if (branch) {
            uint64_t child = (uint64_t)lo | ((uint64_t)hi << 16) | ((uint64_t)nflags << 32);
            rc = walk_page(w, child, depth + 1, is_main);
            if (rc) return rc;
            continue;
        }
        uint64_t dsize = (uint64_t)lo | ((uint64_t)hi << 16);
        if (nflags & ~(F_BIGDATA | F_SUBDATA)) return bad(w, "page %llu has a node with flags 0x%llx", U(pgno), U(nflags));
        if (nflags & F_BIGDATA) {
            if (key_end + 8 > w->psize) return bad(w, "page %llu has a large-value node past the page (node %llu)", U(pgno), U(i));
            uint64_t first = u64(node + NODE_HEADER + ksize);
            if (first < 2 || first > w->last) return bad(w, "page %llu points at large-value page %llu", U(pgno), U(first));
            const unsigned char *ov = w->map + first * w->psize;
            uint32_t pages = u32(ov + 12);
            if (u64(ov) != first || !(u16(ov + 10) & P_OVERFLOW))
                return bad(w, "large-value page %llu (from page %llu) is not one", U(first), U(pgno));
            if (pages == 0 || dsize > (uint64_t)pages * w->psize - PAGE_HEADER)
                return bad(w, "large-value page %llu does not hold its %llu bytes", U(first), U(dsize));
            rc = claim(w, first, pages);
            if (rc) return rc;
            continue;
        }
        if (key_end + dsize > w->psize) return bad(w, "page %llu has a value running past the page (node %llu)", U(pgno), U(i));
        if (nflags & F_SUBDATA) {
            if (!is_main || dsize != DB_RECORD) return bad(w, "page %llu has a misplaced database record (node %llu)", U(pgno), U(i));
            rc = walk_db(w, node + NODE_HEADER + ksize, 0);
            if (rc) return rc;
        }
    }
    return 0;
}

/// Walks one database from its MDB_db record (root at offset 40).
static int walk_db(walk_t *w, const unsigned char *record, int is_main) {
    uint64_t root = u64(record + 40);
    if (root == P_INVALID) return 0;
    return walk_page(w, root, 1, is_main);
}

/// Walks the snapshot of `txn` (a read transaction, which keeps its pages from being reused
/// by a writer in any process while the walk runs).
static int verify(MDB_env *env, MDB_txn *txn, char *reason, size_t reason_size) {
    MDB_stat stat;
    int rc = mdb_env_stat(env, &stat);
    if (rc) return rc;
    // A mapping of our own (LMDB does not tell where its map is): the same page cache.
    mdb_filehandle_t fd;
    rc = mdb_env_get_fd(env, &fd);
    if (rc) return rc;
    struct stat st;
    if (fstat(fd, &st) != 0) return errno;
    walk_t w = { NULL, stat.ms_psize, 0, NULL, reason, reason_size };
    if (w.psize < 512 || (uint64_t)st.st_size < 2 * w.psize)
        return bad(&w, "data.mdb is %llu bytes, too short for its two meta pages", U((unsigned long long)st.st_size));
    uint64_t pages_in_file = (uint64_t)st.st_size / w.psize;
    size_t length = (size_t)(pages_in_file * w.psize);
    void *map = mmap(NULL, length, PROT_READ, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) return errno;
    w.map = (const unsigned char *)map;
    // The meta page of the transaction's snapshot: the one with its transaction id. A writer
    // may overwrite that page two commits later; the copy is used only if the id is the same
    // after it was taken.
    uint64_t txnid = (uint64_t)mdb_txn_id(txn);
    unsigned char dbs[2 * DB_RECORD];
    uint64_t last = 0;
    int found = 0;
    for (int i = 0; i < 2 && !found; i++) {
        const volatile unsigned char *meta = w.map + (uint64_t)i * w.psize + PAGE_HEADER;
        if (u64((const unsigned char *)meta + META_TXNID) != txnid) continue;
        memcpy(dbs, (const unsigned char *)meta + META_DBS, sizeof dbs);
        last = u64((const unsigned char *)meta + META_LAST_PAGE);
        __sync_synchronize();
        found = u64((const unsigned char *)meta + META_TXNID) == txnid;
    }
    if (!found) { munmap(map, length); return EAGAIN; }
    w.last = last;
    if (last >= pages_in_file) {
        munmap(map, length);
        return bad(&w, "data.mdb is %llu bytes, short of its last page in use (%llu)", U((unsigned long long)st.st_size), U(last));
    }
    w.seen = calloc(w.last / 8 + 1, 1);
    if (!w.seen) { munmap(map, length); return ENOMEM; }
    rc = walk_db(&w, dbs, 0);                         // the free list
    if (!rc) rc = walk_db(&w, dbs + DB_RECORD, 1);    // the main database and, through it, the named ones
    free(w.seen);
    munmap(map, length);
    return rc;
}

int kmdb_env_verify(MDB_env *env, char *reason, size_t reason_size) {
    if (reason_size) reason[0] = 0;
    // A writer in another process may commit between the snapshot's start and the read of its
    // meta page (EAGAIN): take a newer snapshot.
    for (int attempt = 0; attempt < 8; attempt++) {
        MDB_txn *txn = NULL;
        int rc = kmdb_txn_begin(env, NULL, MDB_RDONLY, &txn);
        if (rc == MDB_MAP_RESIZED) {  // another process grew the map: adopt its size
            rc = kmdb_env_set_mapsize(env, 0);
            if (rc) return rc;
            continue;
        }
        if (rc) return rc;
        GUARDED(rc, verify(env, txn, reason, reason_size));
        kmdb_txn_abort(txn);
        if (rc != EAGAIN) return rc;
    }
    return EAGAIN;
}
