// Fault guard around liblmdb calls: see include/clmdb.h.
#define _GNU_SOURCE
#include "clmdb.h"

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static __thread sigjmp_buf guard_jump;
static __thread volatile sig_atomic_t guard_depth;
static __thread int last_fault;

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
        siglongjmp(guard_jump, 1);
    }
}

int kmdb_last_fault_signal(void) { return last_fault; }

// GUARDED(expr): evaluates expr with the guard armed; KMDB_FAULT if it faulted. Not reentrant
// (LMDB never calls back into us except through on_assert).
#define GUARDED(result, expr)                                  \
    do {                                                       \
        pthread_once(&install_once, install);                  \
        if (sigsetjmp(guard_jump, 1) != 0) {                   \
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
