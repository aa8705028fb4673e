// The WAL write-coalescing VFS (see sqlite_wal_vfs.hpp).
#include "storage/sqlite_wal_vfs.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <vector>

#include "storage/database.hpp"

namespace acme::storage {

namespace {

// Past this much buffered, write even before the commit (a transaction of thousands of pages).
constexpr std::size_t kMaxBuffered = std::size_t{4} << 20;
// A WAL frame header; the WAL's own header is 32 bytes, pages at least 512.
constexpr int kFrameHeaderBytes = 24;
// The unix VFS writes at most 128 KiB - 1 per call (it masks the length with 0x1ffff, and
// reports a full disk when that leaves nothing): larger buffers go down in pieces.
constexpr std::size_t kMaxWrite = (std::size_t{128} << 10) - 4096;

std::atomic<std::int64_t> g_writes{0};
std::atomic<std::int64_t> g_flushes{0};

struct File {
    sqlite3_file base;  // first: SQLite sees a File as an sqlite3_file
    sqlite3_file* real;
    bool wal;
    bool commit_page_next;  // the last write was a commit frame's header
    sqlite3_int64 buffered_at;
    std::vector<unsigned char> buffered;
};

// The WAL file of this thread with frames not yet written, if any. SQLite writes a
// transaction's frames, publishes its commit (xShmBarrier on the database file) and releases
// the write lock (xShmLock, unlocking) on one thread: the project runs each transaction on one
// thread.
thread_local File* t_pending = nullptr;

File* Cast(sqlite3_file* f) { return reinterpret_cast<File*>(f); }

int Flush(File& f) {
    if (t_pending == &f) t_pending = nullptr;
    int rc = SQLITE_OK;
    for (std::size_t at = 0; at < f.buffered.size() && rc == SQLITE_OK; at += kMaxWrite) {
        const std::size_t n = std::min(kMaxWrite, f.buffered.size() - at);
        rc = f.real->pMethods->xWrite(f.real, f.buffered.data() + at, static_cast<int>(n),
                                      f.buffered_at + static_cast<sqlite3_int64>(at));
        g_flushes.fetch_add(1, std::memory_order_relaxed);
    }
    f.buffered.clear();
    f.commit_page_next = false;
    return rc;
}

int FlushIfWal(File& f) { return f.wal ? Flush(f) : SQLITE_OK; }

int Close(sqlite3_file* p) {
    File& f = *Cast(p);
    const int flushed = FlushIfWal(f);
    const int rc = f.real->pMethods != nullptr ? f.real->pMethods->xClose(f.real) : SQLITE_OK;
    f.~File();
    return flushed != SQLITE_OK ? flushed : rc;
}

int Read(sqlite3_file* p, void* out, int amount, sqlite3_int64 offset) {
    File& f = *Cast(p);
    if (f.wal && !f.buffered.empty() &&
        offset < f.buffered_at + static_cast<sqlite3_int64>(f.buffered.size()) &&
        offset + amount > f.buffered_at) {
        if (const int rc = Flush(f); rc != SQLITE_OK) return rc;
    }
    return f.real->pMethods->xRead(f.real, out, amount, offset);
}

int Write(sqlite3_file* p, const void* data, int amount, sqlite3_int64 offset) {
    File& f = *Cast(p);
    if (!f.wal) return f.real->pMethods->xWrite(f.real, data, amount, offset);
    g_writes.fetch_add(1, std::memory_order_relaxed);
    if (!f.buffered.empty() &&
        offset != f.buffered_at + static_cast<sqlite3_int64>(f.buffered.size())) {
        if (const int rc = Flush(f); rc != SQLITE_OK) return rc;
    }
    if (t_pending != nullptr && t_pending != &f) {
        if (const int rc = Flush(*t_pending); rc != SQLITE_OK) return rc;
    }
    if (f.buffered.empty()) f.buffered_at = offset;
    const auto* bytes = static_cast<const unsigned char*>(data);
    f.buffered.insert(f.buffered.end(), bytes, bytes + amount);
    t_pending = &f;
    if (amount == kFrameHeaderBytes) {
        // Bytes 4..7 of a frame header: the database size after a commit, 0 in other frames.
        f.commit_page_next = (bytes[4] | bytes[5] | bytes[6] | bytes[7]) != 0;
        return SQLITE_OK;
    }
    if (f.commit_page_next || f.buffered.size() >= kMaxBuffered) return Flush(f);
    return SQLITE_OK;
}

int Truncate(sqlite3_file* p, sqlite3_int64 size) {
    File& f = *Cast(p);
    if (const int rc = FlushIfWal(f); rc != SQLITE_OK) return rc;
    return f.real->pMethods->xTruncate(f.real, size);
}

int Sync(sqlite3_file* p, int flags) {
    File& f = *Cast(p);
    if (const int rc = FlushIfWal(f); rc != SQLITE_OK) return rc;
    return f.real->pMethods->xSync(f.real, flags);
}

int FileSize(sqlite3_file* p, sqlite3_int64* size) {
    File& f = *Cast(p);
    if (const int rc = FlushIfWal(f); rc != SQLITE_OK) return rc;
    return f.real->pMethods->xFileSize(f.real, size);
}

int Lock(sqlite3_file* p, int level) {
    return Cast(p)->real->pMethods->xLock(Cast(p)->real, level);
}

int Unlock(sqlite3_file* p, int level) {
    return Cast(p)->real->pMethods->xUnlock(Cast(p)->real, level);
}

int CheckReservedLock(sqlite3_file* p, int* out) {
    return Cast(p)->real->pMethods->xCheckReservedLock(Cast(p)->real, out);
}

int FileControl(sqlite3_file* p, int op, void* arg) {
    File& f = *Cast(p);
    if (const int rc = FlushIfWal(f); rc != SQLITE_OK) return rc;
    return f.real->pMethods->xFileControl(f.real, op, arg);
}

int SectorSize(sqlite3_file* p) { return Cast(p)->real->pMethods->xSectorSize(Cast(p)->real); }

int DeviceCharacteristics(sqlite3_file* p) {
    return Cast(p)->real->pMethods->xDeviceCharacteristics(Cast(p)->real);
}

int ShmMap(sqlite3_file* p, int page, int page_size, int extend, void volatile** out) {
    return Cast(p)->real->pMethods->xShmMap(Cast(p)->real, page, page_size, extend, out);
}

int ShmLock(sqlite3_file* p, int offset, int n, int flags) {
    if ((flags & SQLITE_SHM_UNLOCK) != 0 && t_pending != nullptr) {
        // The end of a write transaction (SQLite ignores an unlock's result): what is still
        // buffered is a rolled-back transaction's frames; written as SQLite would have, and
        // before another connection may append at the same offsets.
        (void)Flush(*t_pending);
    }
    return Cast(p)->real->pMethods->xShmLock(Cast(p)->real, offset, n, flags);
}

void ShmBarrier(sqlite3_file* p) {
    // SQLite is about to publish a commit in the WAL index: its frames must be in the file.
    if (t_pending != nullptr) {
        if (Flush(*t_pending) != SQLITE_OK) {
            // The commit would become visible without its frames; no error can be returned
            // from here, so stop before anything reads them.
            std::fputs("acme: fatal: writing buffered WAL frames failed before a commit\n", stderr);
            std::abort();
        }
    }
    Cast(p)->real->pMethods->xShmBarrier(Cast(p)->real);
}

int ShmUnmap(sqlite3_file* p, int delete_flag) {
    return Cast(p)->real->pMethods->xShmUnmap(Cast(p)->real, delete_flag);
}

int Fetch(sqlite3_file* p, sqlite3_int64 offset, int amount, void** out) {
    sqlite3_file* real = Cast(p)->real;
    if (real->pMethods->iVersion < 3) {
        *out = nullptr;
        return SQLITE_OK;
    }
    return real->pMethods->xFetch(real, offset, amount, out);
}

int Unfetch(sqlite3_file* p, sqlite3_int64 offset, void* page) {
    sqlite3_file* real = Cast(p)->real;
    if (real->pMethods->iVersion < 3) return SQLITE_OK;
    return real->pMethods->xUnfetch(real, offset, page);
}

const sqlite3_io_methods kMethods = {3,
                                     Close,
                                     Read,
                                     Write,
                                     Truncate,
                                     Sync,
                                     FileSize,
                                     Lock,
                                     Unlock,
                                     CheckReservedLock,
                                     FileControl,
                                     SectorSize,
                                     DeviceCharacteristics,
                                     ShmMap,
                                     ShmLock,
                                     ShmBarrier,
                                     ShmUnmap,
                                     Fetch,
                                     Unfetch};

sqlite3_vfs* Real(sqlite3_vfs* vfs) { return static_cast<sqlite3_vfs*>(vfs->pAppData); }

std::size_t RealOffset() { return (sizeof(File) + 15) & ~std::size_t{15}; }

int Open(sqlite3_vfs* vfs, sqlite3_filename name, sqlite3_file* p, int flags, int* out_flags) {
    auto* f = new (p) File{};
    f->real = reinterpret_cast<sqlite3_file*>(reinterpret_cast<unsigned char*>(p) + RealOffset());
    f->real->pMethods = nullptr;
    f->wal = (flags & SQLITE_OPEN_WAL) != 0;
    const int rc = Real(vfs)->xOpen(Real(vfs), name, f->real, flags, out_flags);
    if (f->real->pMethods == nullptr) {
        // SQLite calls no method of a file whose open failed.
        f->~File();
        p->pMethods = nullptr;
        return rc != SQLITE_OK ? rc : SQLITE_CANTOPEN;
    }
    f->base.pMethods = &kMethods;
    return rc;
}

int Delete(sqlite3_vfs* vfs, const char* name, int sync_dir) {
    return Real(vfs)->xDelete(Real(vfs), name, sync_dir);
}
int Access(sqlite3_vfs* vfs, const char* name, int flags, int* out) {
    return Real(vfs)->xAccess(Real(vfs), name, flags, out);
}
int FullPathname(sqlite3_vfs* vfs, const char* name, int n, char* out) {
    return Real(vfs)->xFullPathname(Real(vfs), name, n, out);
}
void* DlOpen(sqlite3_vfs* vfs, const char* name) { return Real(vfs)->xDlOpen(Real(vfs), name); }
void DlError(sqlite3_vfs* vfs, int n, char* out) { Real(vfs)->xDlError(Real(vfs), n, out); }
void (*DlSym(sqlite3_vfs* vfs, void* handle, const char* symbol))(void) {
    return Real(vfs)->xDlSym(Real(vfs), handle, symbol);
}
void DlClose(sqlite3_vfs* vfs, void* handle) { Real(vfs)->xDlClose(Real(vfs), handle); }
int Randomness(sqlite3_vfs* vfs, int n, char* out) {
    return Real(vfs)->xRandomness(Real(vfs), n, out);
}
int Sleep(sqlite3_vfs* vfs, int us) { return Real(vfs)->xSleep(Real(vfs), us); }
int CurrentTime(sqlite3_vfs* vfs, double* out) { return Real(vfs)->xCurrentTime(Real(vfs), out); }
int GetLastError(sqlite3_vfs* vfs, int n, char* out) {
    return Real(vfs)->xGetLastError(Real(vfs), n, out);
}
int CurrentTimeInt64(sqlite3_vfs* vfs, sqlite3_int64* out) {
    return Real(vfs)->xCurrentTimeInt64(Real(vfs), out);
}

sqlite3_vfs* Register() {
    sqlite3_vfs* real = sqlite3_vfs_find(nullptr);
    if (real == nullptr || real->iVersion < 2) return nullptr;
    static sqlite3_vfs vfs{};
    vfs.iVersion = 2;
    vfs.szOsFile = static_cast<int>(RealOffset()) + real->szOsFile;
    vfs.mxPathname = real->mxPathname;
    vfs.zName = "acme-wal-coalesce";
    vfs.pAppData = real;
    vfs.xOpen = Open;
    vfs.xDelete = Delete;
    vfs.xAccess = Access;
    vfs.xFullPathname = FullPathname;
    vfs.xDlOpen = DlOpen;
    vfs.xDlError = DlError;
    vfs.xDlSym = DlSym;
    vfs.xDlClose = DlClose;
    vfs.xRandomness = Randomness;
    vfs.xSleep = Sleep;
    vfs.xCurrentTime = CurrentTime;
    vfs.xGetLastError = GetLastError;
    vfs.xCurrentTimeInt64 = CurrentTimeInt64;
    if (sqlite3_vfs_register(&vfs, 0) != SQLITE_OK) return nullptr;
    return &vfs;
}

}  // namespace

namespace detail {

const char* WalCoalescingVfsName() {
    static sqlite3_vfs* const vfs = Register();
    return vfs != nullptr ? vfs->zName : nullptr;
}

}  // namespace detail

WalWriteStats GetWalWriteStats() {
    return {g_writes.load(std::memory_order_relaxed), g_flushes.load(std::memory_order_relaxed)};
}

}  // namespace acme::storage
