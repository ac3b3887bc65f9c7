package main

// FerretDB 1.24.2's SQLite backend indexes `_id` as `_ferretdb_sjson->"_id"` but looks documents
// up with `WHERE _ferretdb_sjson->'$._id' = ?`. SQLite only uses an expression index for the
// identical expression, so every lookup, update and delete by `_id` scans the whole table: cost
// grows with the collection. This watcher adds, next to FerretDB's own index, an index on the
// exact expression FerretDB queries with, for every collection table in every database file of
// the data directory. It only ever adds indexes (CREATE INDEX IF NOT EXISTS); FerretDB's metadata
// does not list them, and a dropped collection takes its indexes with it.

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver FerretDB itself uses
)

// watchIDIndexes adds the `_id` expression index to new tables until ctx ends.
func watchIDIndexes(ctx context.Context, dataDir string, every time.Duration, logger *slog.Logger) {
	done := map[string]bool{}
	for {
		for _, file := range listDatabases(dataDir) {
			if err := ensureIDIndexes(ctx, file, done); err != nil {
				logger.Debug("id index check failed", "file", file, "error", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}

func listDatabases(dataDir string) []string {
	matches, _ := filepath.Glob(filepath.Join(dataDir, "*.sqlite"))
	return matches
}

func ensureIDIndexes(ctx context.Context, file string, done map[string]bool) error {
	if _, err := os.Stat(file); err != nil {
		return nil
	}
	db, err := sql.Open("sqlite", "file:"+file+"?_pragma=busy_timeout(10000)")
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)

	rows, err := db.QueryContext(ctx, `SELECT table_name FROM "_ferretdb_collections"`)
	if err != nil {
		return err // no metadata table yet: a database FerretDB has just created
	}
	var tables []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err == nil {
			tables = append(tables, t)
		}
	}
	rows.Close()

	for _, t := range tables {
		key := file + "|" + t
		if done[key] {
			continue
		}
		name := t + "_idr_id_lookup"
		q := fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %s ON %s (_ferretdb_sjson->'$._id')`, quote(name), quote(t))
		if _, err := db.ExecContext(ctx, q); err != nil {
			if strings.Contains(err.Error(), "no such table") {
				continue
			}
			return err
		}
		done[key] = true
	}
	return nil
}

func quote(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}
