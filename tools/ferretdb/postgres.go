package main

// The PostgreSQL cluster behind the embedded FerretDB: created on first start in <data>/pg,
// started with no TCP listener (a Unix socket in <data>/pg-socket, mode 0700), every connection
// authenticated with the password in <data>/credentials (credentials.go), stopped when the
// launcher stops. PostgreSQL refuses to run as root, so when the launcher runs as root the
// cluster runs as the unprivileged "postgres" account that Debian's package creates.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// pgCluster is a running PostgreSQL server owned by this launcher.
type pgCluster struct {
	dir    string
	socket string
	pass   string
	cmd    *exec.Cmd
	exited chan struct{}
}

// pgBinDir finds PostgreSQL's server binaries: the given directory, else the newest
// /usr/lib/postgresql/<major>/bin (Debian's layout).
func pgBinDir(given string) (string, error) {
	if given != "" {
		return given, nil
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/postgres")
	sort.Slice(matches, func(i, j int) bool { return majorOf(matches[i]) > majorOf(matches[j]) })
	if len(matches) == 0 {
		if p, err := exec.LookPath("postgres"); err == nil {
			return filepath.Dir(p), nil
		}
		return "", errors.New("PostgreSQL server binaries not found (install Debian's postgresql package; scripts/bootstrap.sh does when run as root)")
	}
	return filepath.Dir(matches[0]), nil
}

func majorOf(path string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(path))))
	return n
}

// runAs returns the credentials PostgreSQL runs with: none (this user) unless we are root.
func runAs() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root, PostgreSQL needs an unprivileged account \"postgres\": %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// allowTraversal lets the PostgreSQL account reach the data directory: it gets the directory
// itself (mode 0700), and every ancestor owned by this (root) user gets the search bit for others
// (o+x: pass through, not list).
func allowTraversal(dir string, cred *syscall.Credential) error {
	if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
		return err
	}
	for d := filepath.Dir(dir); ; d = filepath.Dir(d) {
		info, err := os.Stat(d)
		if err != nil {
			return err
		}
		st, ok := info.Sys().(*syscall.Stat_t)
		if ok && int(st.Uid) == os.Geteuid() && info.Mode().Perm()&0o001 == 0 {
			if err := os.Chmod(d, info.Mode().Perm()|0o001); err != nil {
				return fmt.Errorf("making %s passable for the PostgreSQL account: %w", d, err)
			}
		}
		if d == filepath.Dir(d) {
			return nil
		}
	}
}

// startPostgres initialises the cluster when needed and starts it.
func startPostgres(ctx context.Context, dataDir, binDir string, logger *slog.Logger) (*pgCluster, error) {
	cred, err := runAs()
	if err != nil {
		return nil, err
	}
	secret, created, err := loadCredentials(dataDir)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(dataDir, "pg")
	socket := filepath.Join(dataDir, "pg-socket")
	for _, d := range []string{dir, socket} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, err
		}
		if err := os.Chmod(d, 0o700); err != nil {
			return nil, err
		}
		if cred != nil {
			if err := os.Chown(d, int(cred.Uid), int(cred.Gid)); err != nil {
				return nil, err
			}
		}
	}
	if cred != nil {
		if err := allowTraversal(dataDir, cred); err != nil {
			return nil, err
		}
	}

	if _, err := os.Stat(filepath.Join(dir, "PG_VERSION")); errors.Is(err, os.ErrNotExist) {
		logger.Info("initialising PostgreSQL cluster", "dir", dir)
		init := exec.CommandContext(ctx, filepath.Join(binDir, "initdb"), "-D", dir, "-U", dbUser,
			"--auth=trust", "--encoding=UTF8", "--no-locale", "--no-instructions")
		init.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		if out, err := init.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("initdb: %v: %s", err, out)
		}
	}
	if err := stopStale(dir, logger); err != nil {
		return nil, err
	}
	if err := requirePassword(dir, binDir, cred, secret, created, logger); err != nil {
		return nil, err
	}

	logFile, err := os.OpenFile(filepath.Join(dataDir, "postgresql.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, err
	}
	if err := logFile.Chmod(0o600); err != nil {
		logFile.Close()
		return nil, err
	}
	cmd := exec.Command(filepath.Join(binDir, "postgres"), "-D", dir,
		"-c", "listen_addresses=",
		"-c", "unix_socket_directories="+socket,
		"-c", "unix_socket_permissions=0700",
		"-c", "max_connections=600",
		"-c", "shared_buffers=256MB",
		"-c", "wal_level=minimal",
		"-c", "max_wal_senders=0",
		// FerretDB sends the key of a pushed-down equality as a parameter; only a plan made for
		// the actual values can match the expression indexes (see ginindex.go).
		"-c", "plan_cache_mode=force_custom_plan",
		// The pushdown patch reads a limited query through a cursor, a chunk at a time; plan it as
		// the same query without a cursor (the index that selects its rows), not for its first row.
		"-c", "cursor_tuple_fraction=1",
		"-c", "log_min_messages=warning",
	)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// Pdeathsig: PostgreSQL shuts down (fast mode) if the launcher dies without stopping it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGINT, Setpgid: true}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("starting PostgreSQL: %w", err)
	}
	c := &pgCluster{dir: dir, socket: socket, pass: secret.Password, cmd: cmd, exited: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		logFile.Close()
		close(c.exited)
	}()

	deadline := time.Now().Add(60 * time.Second)
	for {
		conn, err := pgx.Connect(ctx, c.url())
		if err == nil {
			conn.Close(ctx)
			return c, nil
		}
		select {
		case <-c.exited:
			return nil, fmt.Errorf("PostgreSQL exited at start-up; see %s", filepath.Join(dataDir, "postgresql.log"))
		default:
		}
		if time.Now().After(deadline) {
			c.stop()
			return nil, fmt.Errorf("PostgreSQL not ready after 60s: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// url is the connection string for the cluster's Unix socket, with the password (the launcher's
// own connections).
func (c *pgCluster) url() string {
	return "postgres://" + dbUser + ":" + c.pass + "@/postgres?host=" + c.socket + "&sslmode=disable"
}

// poolURL is url for FerretDB's connection pool. FerretDB 1.24 keeps a pooled connection for
// every open cursor and does not give it back when the client that opened the cursor goes away
// without closing it; with its default pool of 50, such cursors would in time stop every query.
// A larger pool (within max_connections above) keeps that far away.
//
// It has no password: FerretDB puts in the credentials each client gives (authMechanism=PLAIN),
// so a client without them is refused by PostgreSQL.
func (c *pgCluster) poolURL() string {
	return "postgres://" + dbUser + "@/postgres?host=" + c.socket + "&sslmode=disable&pool_max_conns=500"
}

// stop shuts PostgreSQL down: fast mode, then immediate after 30 s.
func (c *pgCluster) stop() {
	select {
	case <-c.exited:
		return
	default:
	}
	_ = c.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-c.exited:
	case <-time.After(30 * time.Second):
		_ = c.cmd.Process.Signal(syscall.SIGQUIT)
		<-c.exited
	}
}

// stopStale stops a server left running on this cluster by a launcher that was killed
// (its postmaster was re-parented to init). A server with a live launcher is a conflict.
func stopStale(dir string, logger *slog.Logger) error {
	b, err := os.ReadFile(filepath.Join(dir, "postmaster.pid"))
	if err != nil {
		return nil
	}
	pid, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
	if err != nil || pid <= 0 {
		return nil
	}
	if syscall.Kill(pid, 0) != nil {
		return nil // not running: PostgreSQL removes the stale file itself
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil
	}
	fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	if len(fields) > 1 && fields[1] != "1" {
		return fmt.Errorf("the database in %s is in use by another running process (pid %d)", dir, pid)
	}
	logger.Warn("stopping a PostgreSQL server left behind by an earlier launcher", "pid", pid)
	_ = syscall.Kill(pid, syscall.SIGINT)
	for i := 0; i < 600; i++ {
		if syscall.Kill(pid, 0) != nil {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("PostgreSQL server %d left behind in %s did not stop", pid, dir)
}
