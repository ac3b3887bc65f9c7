package main

// FerretDB 1.24's PostgreSQL backend pushes a top-level (or dotted) scalar equality down to SQL
// as `_jsonb->'key' @> value` (or `_jsonb #> '{a,b}' @> value`), but indexes fields with btree
// expression indexes, which `@>` cannot use. This watcher adds, for every collection, a GIN
// index `((_jsonb->'key') jsonb_path_ops)` on `_id` and on each key IDR names for that
// collection, which is exactly the expression FerretDB queries with. It only ever adds indexes;
// FerretDB's metadata does not list them, and a dropped collection takes them with it.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// ginSpec maps a collection name to the keys that get GIN indexes (besides `_id`).
type ginSpec map[string][]string

// parseGinSpec reads "coll=k1,k2;coll2=k3".
func parseGinSpec(s string) (ginSpec, error) {
	spec := ginSpec{}
	for _, part := range strings.Split(s, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, keys, ok := strings.Cut(part, "=")
		if !ok || name == "" {
			return nil, fmt.Errorf("index spec %q: expected collection=key,key", part)
		}
		for _, k := range strings.Split(keys, ",") {
			if k = strings.TrimSpace(k); k != "" {
				spec[name] = append(spec[name], k)
			}
		}
	}
	return spec, nil
}

// watchGinIndexes adds the indexes to new collections until ctx ends.
func watchGinIndexes(ctx context.Context, url string, spec ginSpec, every time.Duration, ready chan<- struct{}, logger *slog.Logger) {
	lastTables := ""
	first := true
	for {
		if conn, err := pgx.Connect(ctx, url); err == nil {
			for ctx.Err() == nil {
				// New tables change the count or the highest oid: only then look for missing indexes.
				var tables string
				if err := conn.QueryRow(ctx, `SELECT count(*) || '/' || coalesce(max(oid::int8), 0) FROM pg_class WHERE relkind = 'r'`).Scan(&tables); err != nil {
					logger.Debug("index watcher", "error", err)
					break
				}
				if tables != lastTables {
					if err := ensureGinIndexes(ctx, conn, spec); err != nil {
						logger.Warn("adding GIN indexes failed", "error", err)
					} else {
						lastTables = tables
					}
				}
				if first {
					first = false
					close(ready)
				}
				select {
				case <-ctx.Done():
				case <-time.After(every):
				}
			}
			conn.Close(context.Background())
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}

func ensureGinIndexes(ctx context.Context, conn *pgx.Conn, spec ginSpec) error {
	rows, err := conn.Query(ctx, `SELECT schemaname || '.' || indexname FROM pg_indexes WHERE indexname LIKE 'idr_gin_%'`)
	if err != nil {
		return err
	}
	existing, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	have := map[string]bool{}
	for _, e := range existing {
		have[e] = true
	}
	rows, err = conn.Query(ctx, `SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relname = '_ferretdb_database_metadata'`)
	if err != nil {
		return err
	}
	schemas, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	for _, schema := range schemas {
		q := fmt.Sprintf(`SELECT _jsonb->>'_id', _jsonb->>'table' FROM %s`, pgx.Identifier{schema, "_ferretdb_database_metadata"}.Sanitize())
		rows, err := conn.Query(ctx, q)
		if err != nil {
			return err
		}
		type coll struct{ name, table string }
		colls, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (coll, error) {
			var c coll
			err := r.Scan(&c.name, &c.table)
			return c, err
		})
		if err != nil {
			return err
		}
		for _, c := range colls {
			for _, key := range append([]string{"_id"}, spec[c.name]...) {
				name := ginIndexName(c.table, key)
				if have[schema+"."+name] {
					continue
				}
				if _, err := conn.Exec(ctx, ginIndexSQL(schema, c.table, key, name)); err != nil {
					if strings.Contains(err.Error(), "does not exist") {
						continue // dropped meanwhile
					}
					return fmt.Errorf("%s.%s %s: %w", schema, c.table, key, err)
				}
			}
		}
	}
	return nil
}

// ginIndexSQL is the CREATE INDEX statement for one key (dotted keys use a path).
func ginIndexSQL(schema, table, key, name string) string {
	expr := "_jsonb->" + quoteLiteral(key)
	if strings.Contains(key, ".") {
		expr = "_jsonb #> " + quoteLiteral("{"+strings.Join(strings.Split(key, "."), ",")+"}")
	}
	return fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %s ON %s USING gin ((%s) jsonb_path_ops)`,
		pgx.Identifier{name}.Sanitize(), pgx.Identifier{schema, table}.Sanitize(), expr)
}

// ginIndexName is the index name for a key of a table (PostgreSQL names are at most 63 bytes).
func ginIndexName(table, key string) string {
	sum := sha256.Sum256([]byte(table + "|" + key))
	return "idr_gin_" + hex.EncodeToString(sum[:8])
}

func quoteLiteral(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}
