#include "store/sqlite/wal_write_buffer.hpp"

#include <sqlite3.h>

#include <cstring>
#include <mutex>
#include <new>
#include <string>

namespace webhookd::sqlite {
namespace {

// The unix VFS cannot write 128 KiB or more in one call (it keeps the length's low 17 bits and
// then reports the disk full), so a commit's frames go out in blocks below that: 29 frames of a
// 4 KiB page each.
constexpr std::size_t kMaxBuffered = 120 * 1024;

sqlite3_vfs* g_default = nullptr;

// What this VFS hands SQLite: its own header, then the default VFS's file object.
struct File {
  sqlite3_file base;
  sqlite3_file* real;
  bool is_wal;
  sqlite3_int64 buffered_at;
  std::string buffered;
};

File* Of(sqlite3_file* file) { return reinterpret_cast<File*>(file); }
sqlite3_file* Real(sqlite3_file* file) { return Of(file)->real; }

int Flush(File& f) {
  if (f.buffered.empty()) return SQLITE_OK;
  const int rc = f.real->pMethods->xWrite(f.real, f.buffered.data(),
                                          static_cast<int>(f.buffered.size()), f.buffered_at);
  f.buffered.clear();
  return rc;
}

int Close(sqlite3_file* file) {
  File& f = *Of(file);
  const int flushed = Flush(f);
  const int closed = f.real->pMethods->xClose(f.real);
  f.buffered.~basic_string();
  return flushed != SQLITE_OK ? flushed : closed;
}

int Read(sqlite3_file* file, void* out, int amount, sqlite3_int64 offset) {
  File& f = *Of(file);
  if (int rc = Flush(f); rc != SQLITE_OK) return rc;
  return f.real->pMethods->xRead(f.real, out, amount, offset);
}

int Write(sqlite3_file* file, const void* data, int amount, sqlite3_int64 offset) {
  File& f = *Of(file);
  if (!f.is_wal) return f.real->pMethods->xWrite(f.real, data, amount, offset);
  const auto size = static_cast<std::size_t>(amount);
  const bool follows = !f.buffered.empty() &&
                       offset == f.buffered_at + static_cast<sqlite3_int64>(f.buffered.size());
  if (!follows || f.buffered.size() + size > kMaxBuffered) {
    if (int rc = Flush(f); rc != SQLITE_OK) return rc;
    if (size >= kMaxBuffered) return f.real->pMethods->xWrite(f.real, data, amount, offset);
    f.buffered_at = offset;
  }
  f.buffered.append(static_cast<const char*>(data), size);
  return SQLITE_OK;
}

int Truncate(sqlite3_file* file, sqlite3_int64 size) {
  File& f = *Of(file);
  if (int rc = Flush(f); rc != SQLITE_OK) return rc;
  return f.real->pMethods->xTruncate(f.real, size);
}

int Sync(sqlite3_file* file, int flags) {
  File& f = *Of(file);
  if (int rc = Flush(f); rc != SQLITE_OK) return rc;
  return f.real->pMethods->xSync(f.real, flags);
}

int FileSize(sqlite3_file* file, sqlite3_int64* size) {
  File& f = *Of(file);
  if (int rc = Flush(f); rc != SQLITE_OK) return rc;
  return f.real->pMethods->xFileSize(f.real, size);
}

int FileControl(sqlite3_file* file, int op, void* arg) {
  File& f = *Of(file);
  if (int rc = Flush(f); rc != SQLITE_OK) return rc;
  return f.real->pMethods->xFileControl(f.real, op, arg);
}

int Lock(sqlite3_file* file, int level) { return Real(file)->pMethods->xLock(Real(file), level); }
int Unlock(sqlite3_file* file, int level) {
  return Real(file)->pMethods->xUnlock(Real(file), level);
}
int CheckReservedLock(sqlite3_file* file, int* out) {
  return Real(file)->pMethods->xCheckReservedLock(Real(file), out);
}
int SectorSize(sqlite3_file* file) { return Real(file)->pMethods->xSectorSize(Real(file)); }
int DeviceCharacteristics(sqlite3_file* file) {
  return Real(file)->pMethods->xDeviceCharacteristics(Real(file));
}
int ShmMap(sqlite3_file* file, int page, int page_size, int extend, void volatile** out) {
  return Real(file)->pMethods->xShmMap(Real(file), page, page_size, extend, out);
}
int ShmLock(sqlite3_file* file, int offset, int n, int flags) {
  return Real(file)->pMethods->xShmLock(Real(file), offset, n, flags);
}
void ShmBarrier(sqlite3_file* file) { Real(file)->pMethods->xShmBarrier(Real(file)); }
int ShmUnmap(sqlite3_file* file, int delete_flag) {
  return Real(file)->pMethods->xShmUnmap(Real(file), delete_flag);
}
int Fetch(sqlite3_file* file, sqlite3_int64 offset, int amount, void** out) {
  File& f = *Of(file);
  if (int rc = Flush(f); rc != SQLITE_OK) return rc;
  return f.real->pMethods->xFetch(f.real, offset, amount, out);
}
int Unfetch(sqlite3_file* file, sqlite3_int64 offset, void* page) {
  return Real(file)->pMethods->xUnfetch(Real(file), offset, page);
}

// One table per version of the default VFS's methods: SQLite reads iVersion to know which
// members exist, so ours must not claim more than the file underneath has.
sqlite3_io_methods MethodsOfVersion(int version) {
  sqlite3_io_methods m{};
  m.iVersion = version;
  m.xClose = Close;
  m.xRead = Read;
  m.xWrite = Write;
  m.xTruncate = Truncate;
  m.xSync = Sync;
  m.xFileSize = FileSize;
  m.xLock = Lock;
  m.xUnlock = Unlock;
  m.xCheckReservedLock = CheckReservedLock;
  m.xFileControl = FileControl;
  m.xSectorSize = SectorSize;
  m.xDeviceCharacteristics = DeviceCharacteristics;
  if (version >= 2) {
    m.xShmMap = ShmMap;
    m.xShmLock = ShmLock;
    m.xShmBarrier = ShmBarrier;
    m.xShmUnmap = ShmUnmap;
  }
  if (version >= 3) {
    m.xFetch = Fetch;
    m.xUnfetch = Unfetch;
  }
  return m;
}

const sqlite3_io_methods kMethods[3] = {MethodsOfVersion(1), MethodsOfVersion(2),
                                        MethodsOfVersion(3)};

int Open(sqlite3_vfs*, sqlite3_filename name, sqlite3_file* file, int flags, int* out_flags) {
  File& f = *Of(file);
  f.base.pMethods = nullptr;
  f.real = reinterpret_cast<sqlite3_file*>(&f + 1);
  const int rc = g_default->xOpen(g_default, name, f.real, flags, out_flags);
  if (rc != SQLITE_OK || f.real->pMethods == nullptr) {
    // SQLite calls xClose only when pMethods is set; the default VFS's cleanup is its own.
    if (f.real->pMethods != nullptr) f.real->pMethods->xClose(f.real);
    return rc != SQLITE_OK ? rc : SQLITE_CANTOPEN;
  }
  const int version = f.real->pMethods->iVersion;
  f.is_wal = (flags & SQLITE_OPEN_WAL) != 0;
  f.buffered_at = 0;
  new (&f.buffered) std::string();
  f.base.pMethods = &kMethods[(version < 1 ? 1 : version > 3 ? 3 : version) - 1];
  return SQLITE_OK;
}

sqlite3_vfs g_vfs{};

}  // namespace

const char* WalWriteBufferVfsName() {
  static std::once_flag once;
  std::call_once(once, [] {
    g_default = sqlite3_vfs_find(nullptr);
    g_vfs = *g_default;
    g_vfs.szOsFile = static_cast<int>(sizeof(File)) + g_default->szOsFile;
    g_vfs.zName = "webhookd-wal-write-buffer";
    g_vfs.pNext = nullptr;
    g_vfs.xOpen = Open;
    sqlite3_vfs_register(&g_vfs, /*makeDflt=*/0);
  });
  return g_vfs.zName;
}

}  // namespace webhookd::sqlite
