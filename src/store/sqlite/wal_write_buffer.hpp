// A SQLite VFS that gathers a connection's writes to its WAL file into one pwrite per commit.
//
// SQLite writes each WAL frame as two writes (a 24-byte header, then the page), so a commit of
// 30 pages costs 60 system calls, each touching one or two pages of the file's cache. This VFS
// passes everything to the default one, except that it keeps consecutive writes to a WAL file in
// memory and writes them as one block before anything that could observe them: a sync (every
// commit under synchronous=FULL), a read, the file's size, a truncation, a file control, a
// close. Frames of a commit reach other connections only through the WAL index, which SQLite
// updates after the commit's sync, so they are on disk first. Hence the rule the writer enforces:
// a connection that uses this VFS runs with synchronous=FULL or EXTRA.
#pragma once

namespace webhookd::sqlite {

// The registered VFS's name, to pass to sqlite3_open_v2 (registered on the first call).
const char* WalWriteBufferVfsName();

}  // namespace webhookd::sqlite
