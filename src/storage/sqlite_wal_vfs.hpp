// Internal to the SQLite adapter (includes no SQLite header): the VFS shim that gathers a
// transaction's WAL frames into one write.
#pragma once

namespace acme::storage::detail {

// Registers (once, thread-safe) and names a VFS over SQLite's default one that buffers
// consecutive writes to WAL files and issues them as one `pwrite` when the transaction's
// commit frame has been written. SQLite writes every frame as two calls (its 24-byte header,
// then the page); on this project's machines a system call costs more than copying the page,
// so a 40-page commit goes from 80 system calls to one.
//
// Nothing is acknowledged earlier than before: the buffer is written before the commit
// frame's write returns, so before SQLite publishes the commit in the WAL index, where readers
// (other connections, other processes) look for it. Should a frame still be buffered when
// SQLite publishes a commit (SQLite changed how it writes frames), the WAL-index barrier that
// precedes publication writes it; any read, sync, size query or truncation of the WAL, and
// any write that does not continue the buffer, writes it first too; releasing the write lock
// writes what a rolled-back transaction left. Each transaction must run on one thread (the
// shim keeps the file being buffered per thread), and the shared-memory WAL index is assumed
// (not `PRAGMA locking_mode=EXCLUSIVE`).
const char* WalCoalescingVfsName();

}  // namespace acme::storage::detail
