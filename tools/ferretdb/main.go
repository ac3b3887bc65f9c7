// Command ferretdb starts IDR's embedded database for the demo and tests: a PostgreSQL cluster
// (postgres.go) with FerretDB 1.24 in front of it speaking the MongoDB wire protocol, and the GIN
// indexes that let PostgreSQL answer FerretDB's pushed-down equalities from an index
// (ginindex.go).
//
// Clients must authenticate with the user and password in <data>/credentials (mode 0600, made at
// first start) and authMechanism=PLAIN: FerretDB hands them to PostgreSQL, which refuses any
// connection without them (credentials.go). The data directory is kept 0700.
//
// It listens on a loopback TCP port (0 picks a free one), prints one line
// "READY <mongodb-uri>" on stdout once the listener accepts connections, and stops when
// it receives SIGINT/SIGTERM or when its standard input closes, so it never outlives the
// Node process that started it.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "TCP address to listen on")
	dataDir := flag.String("data", "data/db", "directory for the database files")
	pgBin := flag.String("pg-bin", "", "directory of PostgreSQL's server binaries (default: newest /usr/lib/postgresql/*/bin)")
	gin := flag.String("gin", "", "GIN-indexed keys per collection besides _id: \"coll=k1,k2;coll2=k3\"")
	logLevel := flag.String("log-level", "warn", "log level: debug, info, warn or error")
	watchStdin := flag.Bool("watch-stdin", true, "exit when standard input closes")
	flag.Parse()

	if err := run(*listen, *dataDir, *pgBin, *gin, *logLevel, *watchStdin); err != nil {
		fmt.Fprintf(os.Stderr, "ferretdb: %v\n", err)
		os.Exit(1)
	}
}

func run(listen, dataDir, pgBin, gin, logLevel string, watchStdin bool) error {
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		return fmt.Errorf("data directory %q: %w", dataDir, err)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return fmt.Errorf("data directory %q: %w", abs, err)
	}
	if err := os.Chmod(abs, 0o700); err != nil {
		return fmt.Errorf("data directory %q: %w", abs, err)
	}
	withoutPGEnv()

	var level slog.Level
	if err := level.UnmarshalText([]byte(logLevel)); err != nil {
		return fmt.Errorf("log level %q: %w", logLevel, err)
	}
	logger := slog.New(quietDuplicates{slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})})

	spec, err := parseGinSpec(gin)
	if err != nil {
		return err
	}
	binDir, err := pgBinDir(pgBin)
	if err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	pg, err := startPostgres(ctx, abs, binDir, logger)
	if err != nil {
		return err
	}
	defer pg.stop()

	f, err := ferretdb.New(&ferretdb.Config{
		Listener:      ferretdb.ListenerConfig{TCP: listen},
		Logger:        logger,
		Handler:       "postgresql",
		PostgreSQLURL: pg.poolURL(),
	})
	if err != nil {
		return err
	}

	if watchStdin {
		go func() {
			_, _ = io.Copy(io.Discard, os.Stdin)
			stop()
		}()
	}

	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	indexesReady := make(chan struct{})
	go watchGinIndexes(ctx, pg.url(), spec, 200*time.Millisecond, indexesReady, logger)
	go func() {
		// The database is gone: stop, so the parent sees it instead of answering errors.
		<-pg.exited
		logger.Error("PostgreSQL stopped")
		stop()
	}()

	// MongoDBURI is only valid once the listener is bound; poll briefly for it.
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case err := <-done:
			return fmt.Errorf("stopped before it was ready: %v", err)
		default:
		}
		if uri := safeURI(f); uri != "" {
			select {
			case <-indexesReady:
			case <-time.After(10 * time.Second):
			}
			fmt.Printf("READY %s\n", uri)
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("listener on %s not ready after 30s", listen)
		}
		time.Sleep(20 * time.Millisecond)
	}

	err = <-done
	if err != nil && ctx.Err() == nil {
		return err
	}
	return nil
}

// safeURI returns the connection URI, or "" while the listener is not yet bound.
func safeURI(f *ferretdb.FerretDB) (uri string) {
	defer func() {
		if recover() != nil {
			uri = ""
		}
	}()
	return f.MongoDBURI()
}
