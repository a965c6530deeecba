// CLMDB: Kestrel's only door to liblmdb (Debian: liblmdb-dev).
//
// LMDB reads its file through a memory map and trusts what it finds there: a truncated or
// damaged data.mdb makes it touch pages past the end of the file (SIGBUS) or follow wild
// pointers (SIGSEGV), and its internal asserts call abort(). The kmdb_* functions below wrap
// every mdb_* call that reads pages. Inside a wrapper, such a fault (or an LMDB assert) does not
// kill the process: the wrapper returns KMDB_FAULT instead. Values and keys handed back by
// kmdb_get / kmdb_cursor_get have had every page they span read inside the guard, so the caller
// can read them without faulting (unless the file shrinks meanwhile).
//
// The guard is a per-thread sigjmp_buf plus process-wide SIGSEGV / SIGBUS handlers, installed
// once, that hand a fault outside a guarded call to whatever handler was there before.
// No Swift frame ever sits between the sigsetjmp and the faulting instruction.
#pragma once
#include <lmdb.h>
#include <stddef.h>

/// Returned when a memory fault or an LMDB assertion happened inside the call: the file is
/// damaged (or was truncated under us). Outside LMDB's own error range.
#define KMDB_FAULT (-30500)

int kmdb_env_open(MDB_env *env, const char *path, unsigned int flags, mdb_mode_t mode);
int kmdb_env_info(MDB_env *env, MDB_envinfo *info);
int kmdb_env_stat(MDB_env *env, MDB_stat *stat);
int kmdb_env_set_mapsize(MDB_env *env, size_t size);
int kmdb_txn_begin(MDB_env *env, MDB_txn *parent, unsigned int flags, MDB_txn **txn);
int kmdb_txn_commit(MDB_txn *txn);
void kmdb_txn_abort(MDB_txn *txn);
int kmdb_dbi_open(MDB_txn *txn, const char *name, unsigned int flags, MDB_dbi *dbi);
int kmdb_get(MDB_txn *txn, MDB_dbi dbi, MDB_val *key, MDB_val *data);
int kmdb_put(MDB_txn *txn, MDB_dbi dbi, MDB_val *key, MDB_val *data, unsigned int flags);
int kmdb_del(MDB_txn *txn, MDB_dbi dbi, MDB_val *key, MDB_val *data);
int kmdb_stat(MDB_txn *txn, MDB_dbi dbi, MDB_stat *stat);
int kmdb_cursor_open(MDB_txn *txn, MDB_dbi dbi, MDB_cursor **cursor);
int kmdb_cursor_get(MDB_cursor *cursor, MDB_val *key, MDB_val *data, MDB_cursor_op op);

/// Walks every page reachable from the current meta page (free list, main database, named
/// databases) and checks what LMDB relies on when it changes a page: page numbers inside the
/// file, each page reached once, page types, free-space bounds, node offsets and sizes inside
/// their page, large values inside their pages. MDB_CORRUPTED with `reason` filled in when
/// something is wrong, KMDB_FAULT if reading faulted, 0 when the structure is sound.
/// Reads every branch and leaf page (not the contents of large values) of the snapshot of a
/// read transaction it holds meanwhile, so a writer in another process can go on. Call with no
/// transaction open in this process.
int kmdb_env_verify(MDB_env *env, char *reason, size_t reason_size);

/// Size of data.mdb in bytes (fstat of LMDB's own descriptor), or -1 with errno set.
long long kmdb_env_file_size(MDB_env *env);

/// Whether the last KMDB_FAULT on this thread was SIGBUS (7), SIGSEGV (11) or an assert (0).
int kmdb_last_fault_signal(void);
/// How many guarded calls on this thread have faulted so far.
unsigned long kmdb_thread_fault_count(void);
