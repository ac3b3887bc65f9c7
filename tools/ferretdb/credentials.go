package main

// The embedded database asks for a password. PostgreSQL authenticates every connection with
// scram-sha-256 (pg_hba.conf below); FerretDB 1.24 has no users of its own and passes the
// credentials a client gives with authMechanism=PLAIN on to PostgreSQL, so a client without them,
// or with a wrong password, gets no connection to the data. The password is made at first start
// and kept in <data>/credentials (mode 0600), where IDR reads it to build its connection URL.

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
)

// dbUser is the PostgreSQL role FerretDB connects as (initdb -U).
const dbUser = "ferretdb"

// credentialsFile is the name of the file holding the password, in the launcher's data directory.
const credentialsFile = "credentials"

// hbaConf lets nobody in without the password; the cluster has no TCP listener, only its socket.
const hbaConf = "# Written by IDR's embedded database launcher: every connection gives the password.\n" +
	"local all all scram-sha-256\n"

// dbCredentials is the content of the credentials file.
type dbCredentials struct {
	User     string `json:"user"`
	Password string `json:"password"`
}

// loadCredentials reads <dataDir>/credentials, creating it with a new random password when it is
// missing; created says whether it was.
func loadCredentials(dataDir string) (c dbCredentials, created bool, err error) {
	file := filepath.Join(dataDir, credentialsFile)
	b, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) {
		secret := make([]byte, 24)
		if _, err := rand.Read(secret); err != nil {
			return c, false, err
		}
		c = dbCredentials{User: dbUser, Password: hex.EncodeToString(secret)}
		out, _ := json.Marshal(c)
		f, err := os.OpenFile(file, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil {
			return c, false, fmt.Errorf("creating %s: %w", file, err)
		}
		_, werr := f.Write(append(out, '\n'))
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			_ = os.Remove(file)
			return c, false, fmt.Errorf("writing %s: %w", file, werr)
		}
		return c, true, nil
	}
	if err != nil {
		return c, false, err
	}
	if err := os.Chmod(file, 0o600); err != nil {
		return c, false, err
	}
	if err := json.Unmarshal(b, &c); err != nil || c.User != dbUser || c.Password == "" {
		return c, false, fmt.Errorf("%s is not a credentials file written by this launcher (remove it only together with %s)", file, filepath.Join(dataDir, "pg"))
	}
	return c, false, nil
}

// requirePassword gives the role its password and makes pg_hba.conf require it, when the cluster
// does not do so yet (a new cluster, one from before passwords, or a new credentials file). It
// runs PostgreSQL in single-user mode, so it must be called while the server is stopped.
func requirePassword(dir, binDir string, cred *syscall.Credential, c dbCredentials, created bool, logger *slog.Logger) error {
	hba := filepath.Join(dir, "pg_hba.conf")
	if current, err := os.ReadFile(hba); err == nil && string(current) == hbaConf && !created {
		return nil
	}
	logger.Info("setting the database password", "dir", dir)
	single := exec.Command(filepath.Join(binDir, "postgres"), "--single", "-D", dir,
		"-c", "password_encryption=scram-sha-256", "-c", "log_min_messages=fatal", "postgres")
	single.Stdin = strings.NewReader(fmt.Sprintf("ALTER ROLE %s PASSWORD '%s';\n", dbUser, c.Password))
	single.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	out, err := single.CombinedOutput()
	if err == nil && strings.Contains(string(out), "ERROR") {
		err = errors.New("ALTER ROLE failed")
	}
	if err != nil {
		return fmt.Errorf("setting the database password: %v: %s", err, strings.ReplaceAll(string(out), c.Password, "***"))
	}
	if err := os.WriteFile(hba+".tmp", []byte(hbaConf), 0o600); err != nil {
		return err
	}
	if cred != nil {
		if err := os.Chown(hba+".tmp", int(cred.Uid), int(cred.Gid)); err != nil {
			return err
		}
	}
	return os.Rename(hba+".tmp", hba)
}

// withoutPGEnv drops PostgreSQL client variables (PGPASSWORD, PGUSER, ...) from this process, so
// no connection it makes picks up a password or user from its environment.
func withoutPGEnv() {
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, "PG") {
			_ = os.Unsetenv(name)
		}
	}
}
