// The SQLite store's file and schema: creating the file owner-only, the connection's settings
// (WAL, synchronous, secure_delete) and the versioned migrations.
#pragma once

#include <sqlite3.h>

#include <string>

namespace hotline::store::sqlite {

/// The schema version (PRAGMA user_version) migrate() brings a database to.
int schema_version() noexcept;

/// Creates the database's folder (0700) and the file itself (0600) before SQLite opens it.
void prepare_file(const std::string& path);

/// The connection's settings; throws when WAL mode cannot be had.
void configure(sqlite3* db, bool in_memory);

/// Applies the migrations the database lacks, each in its own transaction; refuses a database
/// from a newer hotline or from something else.
void migrate(sqlite3* db);

}  // namespace hotline::store::sqlite
