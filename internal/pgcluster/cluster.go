// Package pgcluster runs a private PostgreSQL cluster from the machine's own
// PostgreSQL binaries: `trident dev` keeps one in ./.trident/, and the tests
// start a throwaway one when no database is given.
//
// It is not for production: there PostgreSQL (Aurora, RDS, a managed server)
// is run by the operator and Trident only connects to it.
package pgcluster

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrUnreachable means the postgres user (which runs the server when we are
// root) cannot reach the cluster's folder because a parent folder is
// private; choose another folder.
var ErrUnreachable = errors.New("the postgres user cannot reach the cluster folder (a parent folder is private)")

// Cluster is a PostgreSQL cluster in a folder of its own. Its superuser is
// "postgres"; it listens on 127.0.0.1 only, on the port chosen at init, with
// password authentication.
type Cluster struct {
	Dir    string // the folder that holds data/, password and port files
	BinDir string // where initdb, pg_ctl and postgres are
	Port   int

	password string
	runAs    string // "postgres" when we are root (initdb refuses root), else ""
}

// Options tune a new cluster.
type Options struct {
	// Ephemeral trades durability for speed (fsync=off,
	// synchronous_commit=off, full_page_writes=off): for tests only.
	Ephemeral bool
}

// Open prepares the cluster in dir: it finds the PostgreSQL binaries, and
// runs initdb when dir holds no cluster yet. It does not start the server.
func Open(ctx context.Context, dir string, opts Options) (*Cluster, error) {
	bin, err := FindBinDir()
	if err != nil {
		return nil, err
	}
	dir, err = filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	c := &Cluster{Dir: dir, BinDir: bin}
	if os.Geteuid() == 0 {
		if _, err := user.Lookup("postgres"); err != nil {
			return nil, errors.New("running as root, and initdb refuses root: a 'postgres' user is needed (apt-get install postgresql creates it)")
		}
		c.runAs = "postgres"
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create cluster folder: %w", err)
	}
	if _, err := os.Stat(c.dataDir()); errors.Is(err, os.ErrNotExist) {
		if err := c.initdb(ctx, opts); err != nil {
			return nil, err
		}
	}
	pw, err := os.ReadFile(filepath.Join(dir, "password"))
	if err != nil {
		return nil, fmt.Errorf("read cluster password: %w", err)
	}
	c.password = strings.TrimSpace(string(pw))
	port, err := os.ReadFile(filepath.Join(dir, "port"))
	if err != nil {
		return nil, fmt.Errorf("read cluster port: %w", err)
	}
	if c.Port, err = strconv.Atoi(strings.TrimSpace(string(port))); err != nil {
		return nil, fmt.Errorf("cluster port file: %w", err)
	}
	return c, nil
}

// FindBinDir finds the folder holding initdb and pg_ctl: first on PATH, then
// the newest /usr/lib/postgresql/*/bin (Debian keeps them off PATH).
func FindBinDir() (string, error) {
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		if _, err := exec.LookPath("initdb"); err == nil {
			return filepath.Dir(p), nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return majorOf(dirs[i]) > majorOf(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	return "", errors.New("PostgreSQL binaries not found (no initdb on PATH or under /usr/lib/postgresql/*/bin): install them with 'apt-get install postgresql' or run ./scripts/dev")
}

func majorOf(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

func (c *Cluster) dataDir() string { return filepath.Join(c.Dir, "data") }

func (c *Cluster) initdb(ctx context.Context, opts Options) error {
	if c.runAs != "" {
		// The postgres user must be able to reach the folder.
		if err := c.run(ctx, "/usr/bin/test", "-x", c.Dir); err != nil {
			return fmt.Errorf("%w: %s (%v)", ErrUnreachable, c.Dir, err)
		}
	}
	pw := make([]byte, 24)
	if _, err := rand.Read(pw); err != nil {
		return err
	}
	password := hex.EncodeToString(pw)
	port, err := freePort()
	if err != nil {
		return err
	}
	// initdb reads the superuser password from a file it can open.
	pwFile := filepath.Join(c.Dir, "password")
	if err := os.WriteFile(pwFile, []byte(password+"\n"), 0o600); err != nil {
		return err
	}
	if err := c.chown(c.Dir, pwFile); err != nil {
		return err
	}
	tmp := c.dataDir() + ".tmp"
	_ = os.RemoveAll(tmp)
	if err := c.run(ctx, filepath.Join(c.BinDir, "initdb"),
		"--pgdata", tmp, "--username", "postgres", "--pwfile", pwFile,
		"--auth", "scram-sha-256", "--encoding", "UTF8", "--locale", "C", "--no-instructions"); err != nil {
		return fmt.Errorf("initdb: %w", err)
	}
	conf := fmt.Sprintf(`
# written by trident's pgcluster
listen_addresses = '127.0.0.1'
port = %d
unix_socket_directories = ''
max_connections = 200
shared_buffers = 128MB
log_min_messages = warning
`, port)
	if opts.Ephemeral {
		conf += "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
	}
	f, err := os.OpenFile(filepath.Join(tmp, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(conf); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(c.Dir, "port"), []byte(strconv.Itoa(port)+"\n"), 0o644); err != nil {
		return err
	}
	// Rename last, so a half-made cluster is never taken for a ready one.
	return os.Rename(tmp, c.dataDir())
}

// Start starts the server unless it is running already, and waits until it
// accepts connections. started says whether this call started it.
func (c *Cluster) Start(ctx context.Context) (started bool, err error) {
	if c.Running(ctx) {
		return false, nil
	}
	return true, c.start(ctx)
}

func (c *Cluster) start(ctx context.Context) error {
	logFile := filepath.Join(c.Dir, "postgres.log")
	if err := c.run(ctx, filepath.Join(c.BinDir, "pg_ctl"), "start", "--wait", "--timeout", "60",
		"--pgdata", c.dataDir(), "--log", logFile, "--silent"); err != nil {
		tail, _ := os.ReadFile(logFile)
		if len(tail) > 2000 {
			tail = tail[len(tail)-2000:]
		}
		return fmt.Errorf("start PostgreSQL: %w\n%s", err, tail)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		conn, err := pgx.Connect(ctx, c.URL("postgres", "postgres", c.password))
		if err == nil {
			conn.Close(ctx)
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("PostgreSQL did not accept connections: %w", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Running reports whether the server is running.
func (c *Cluster) Running(ctx context.Context) bool {
	return c.run(ctx, filepath.Join(c.BinDir, "pg_ctl"), "status", "--pgdata", c.dataDir()) == nil
}

// Stop stops the server (fast shutdown: sessions are ended, data is safe).
func (c *Cluster) Stop(ctx context.Context) error {
	if !c.Running(ctx) {
		return nil
	}
	return c.run(ctx, filepath.Join(c.BinDir, "pg_ctl"), "stop", "--wait", "--mode", "fast", "--pgdata", c.dataDir(), "--silent")
}

// Password is the superuser's password; the other roles' passwords are made
// from it by RolePassword.
func (c *Cluster) Password() string { return c.password }

// RolePassword derives a stable password for a role of this cluster.
func (c *Cluster) RolePassword(role string) string {
	return role + "-" + c.password[:16]
}

// URL is a connection URL to database db of this cluster as user.
func (c *Cluster) URL(user, db, password string) string {
	u := url.URL{
		Scheme: "postgres",
		User:   url.UserPassword(user, password),
		Host:   net.JoinHostPort("127.0.0.1", strconv.Itoa(c.Port)),
		Path:   "/" + db,
	}
	q := url.Values{"sslmode": {"disable"}}
	u.RawQuery = q.Encode()
	return u.String()
}

// SuperuserURL connects to database db as the superuser.
func (c *Cluster) SuperuserURL(db string) string { return c.URL("postgres", db, c.password) }

func (c *Cluster) run(ctx context.Context, name string, args ...string) error {
	var cmd *exec.Cmd
	if c.runAs != "" {
		cmd = exec.CommandContext(ctx, "runuser", append([]string{"-u", c.runAs, "--", name}, args...)...)
	} else {
		cmd = exec.CommandContext(ctx, name, args...)
	}
	// The server must outlive a Ctrl-C sent to our process group only when we
	// decide so; run it in its own group and stop it explicitly.
	cmd.SysProcAttr = sysProcAttr()
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w: %s", filepath.Base(name), strings.Join(args[:min(len(args), 1)], " "), err, strings.TrimSpace(out.String()))
	}
	return nil
}

func (c *Cluster) chown(paths ...string) error {
	if c.runAs == "" {
		return nil
	}
	u, err := user.Lookup(c.runAs)
	if err != nil {
		return err
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	for _, p := range paths {
		if err := os.Chown(p, uid, gid); err != nil {
			return err
		}
	}
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Exists reports whether dir holds an initialized cluster.
func Exists(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, "data", "PG_VERSION"))
	return err == nil
}
