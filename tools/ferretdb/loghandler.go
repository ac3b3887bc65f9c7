package main

// IDR claims versions, identifier keys and inbox hashes by inserting a document with a known _id
// and treating "duplicate key" as "someone else has it": an expected answer, not a failure.
// FerretDB logs every failed PostgreSQL query at ERROR, so without this filter those answers
// would fill the log (and, written to a pipe nobody drains fast enough, could stall the writer).

import (
	"context"
	"log/slog"
	"strings"
)

// quietDuplicates passes records through, except failed-query records for unique violations
// (SQLSTATE 23505), which it logs at DEBUG.
type quietDuplicates struct{ slog.Handler }

func (h quietDuplicates) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelError && r.Message == "Query" && isUniqueViolation(r) {
		if !h.Handler.Enabled(ctx, slog.LevelDebug) {
			return nil
		}
		r.Level = slog.LevelDebug
	}
	return h.Handler.Handle(ctx, r)
}

func (h quietDuplicates) WithAttrs(attrs []slog.Attr) slog.Handler {
	return quietDuplicates{h.Handler.WithAttrs(attrs)}
}

func (h quietDuplicates) WithGroup(name string) slog.Handler {
	return quietDuplicates{h.Handler.WithGroup(name)}
}

func isUniqueViolation(r slog.Record) bool {
	found := false
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "err" && strings.Contains(a.Value.String(), "SQLSTATE 23505") {
			found = true
			return false
		}
		return true
	})
	return found
}
