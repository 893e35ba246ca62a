/* SQLite (Debian's libsqlite3, linked statically) on a real file: the test
 * suite runs it in the guest and on the host and compares what it prints.
 * SQLite takes fcntl record locks on every database it opens, so this is the
 * program that used to end in "disk I/O error".
 *   sqlite FILE wal|delete   a write-heavy script: tables, 2000 rows in 20
 *                            transactions, an index, updates, deletes, a
 *                            rollback, an integrity check, aggregates
 *   sqlite FILE read         read-only queries of an existing database */
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

static sqlite3 *db;

static int row(void *arg, int n, char **values, char **names)
{
    printf("  ");
    for (int i = 0; i < n; i++)
        printf("%s%s=%s", i ? " " : "", names[i], values[i] ? values[i] : "NULL");
    printf("\n");
    return 0;
}

static int sql(const char *text)
{
    char *err = 0;
    int rc = sqlite3_exec(db, text, row, 0, &err);
    if (rc != SQLITE_OK) {
        printf("error in \"%.40s\": %s\n", text, err ? err : sqlite3_errstr(rc));
        sqlite3_free(err);
    }
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: sqlite FILE wal|delete|read\n");
        return 2;
    }
    setvbuf(stdout, 0, _IOLBF, 0);
    int readonly = !strcmp(argv[2], "read");
    int rc = sqlite3_open_v2(argv[1], &db, readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, 0);
    printf("open: %s\n", sqlite3_errstr(rc));
    if (rc != SQLITE_OK)
        return 1;
    int fails = 0;
    if (!readonly) {
        char mode[64];
        snprintf(mode, sizeof mode, "PRAGMA journal_mode=%s;", argv[2]);
        fails += sql(mode) != SQLITE_OK;
        fails += sql("CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, n INTEGER, blob BLOB);") != SQLITE_OK;
        sqlite3_stmt *ins;
        sqlite3_prepare_v2(db, "INSERT INTO t(name, n, blob) VALUES (?, ?, randomblob(?));", -1, &ins, 0);
        for (int tx = 0; tx < 20; tx++) {
            fails += sql("BEGIN;") != SQLITE_OK;
            for (int i = 0; i < 100; i++) {
                char name[32];
                int k = tx * 100 + i;
                snprintf(name, sizeof name, "row-%05d", (k * 7919) % 2000);
                sqlite3_bind_text(ins, 1, name, -1, SQLITE_TRANSIENT);
                sqlite3_bind_int(ins, 2, k);
                sqlite3_bind_int(ins, 3, 50 + k % 200);
                if (sqlite3_step(ins) != SQLITE_DONE) {
                    printf("insert %d: %s\n", k, sqlite3_errmsg(db));
                    return 1;
                }
                sqlite3_reset(ins);
            }
            fails += sql("COMMIT;") != SQLITE_OK;
        }
        sqlite3_finalize(ins);
        fails += sql("CREATE INDEX t_name ON t(name);") != SQLITE_OK;
        fails += sql("UPDATE t SET n = n * 2 WHERE n % 3 = 0;") != SQLITE_OK;
        fails += sql("DELETE FROM t WHERE n % 5 = 1;") != SQLITE_OK;
        fails += sql("BEGIN; DELETE FROM t; ROLLBACK;") != SQLITE_OK;
        fails += sql("CREATE TABLE kv(k TEXT PRIMARY KEY, v TEXT) WITHOUT ROWID;"
                     "INSERT INTO kv VALUES ('answer', '42'), ('question', 'unknown');") != SQLITE_OK;
        if (!strcmp(argv[2], "wal"))
            fails += sql("PRAGMA wal_checkpoint(TRUNCATE);") != SQLITE_OK;
    }
    printf("queries:\n");
    fails += sql("PRAGMA integrity_check;") != SQLITE_OK;
    fails += sql("SELECT count(*) AS rows, sum(n) AS total, min(name) AS first, max(name) AS last, "
                 "sum(length(blob)) AS bytes FROM t;") != SQLITE_OK;
    fails += sql("SELECT name, n FROM t WHERE name BETWEEN 'row-00100' AND 'row-00104' ORDER BY name;") != SQLITE_OK;
    fails += sql("SELECT v FROM kv WHERE k = 'answer';") != SQLITE_OK;
    rc = sqlite3_close(db);
    printf("close: %s; %d failed\n", sqlite3_errstr(rc), fails);
    return fails != 0;
}
