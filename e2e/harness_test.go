package e2e

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tridentmdm/trident/internal/fakeapns"
	"github.com/tridentmdm/trident/internal/seal"
	"github.com/tridentmdm/trident/internal/testenv"
	"github.com/tridentmdm/trident/tenancy"
)

// buildFlags are the go command's flags the binary under test is built
// with: those of the test binary (race_test.go, loadtest_tag_test.go).
var buildFlags []string

func TestMain(m *testing.M) { testenv.Main(m) }

// trident builds the production binary once per test run.
func trident(t testing.TB) string {
	t.Helper()
	bin, err := testenv.Build("github.com/tridentmdm/trident/cmd/trident", buildFlags...)
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// server is a Trident under test: a `serve` and a `worker` process on the
// package's database.
type server struct {
	Base string             // the serve process's URL, http://127.0.0.1:port
	Port int                // its port, which tenant hostnames are reached on
	Dir  *tenancy.Directory // the test's own view of the database's tenancy, on the server's DNS
	Key  string             // the encryption key both processes seal with
	// Worker is the worker process; Flags are what both started with
	// (a test starts another worker with them, after killing this one).
	Worker *process
	Flags  []string
}

// flags that the test's server starts with; a later flag of the same name
// wins, so a test's own flags override them.
func defaults(issuer string, port int, key string) []string {
	return []string{
		"--database-url", testenv.AppURL(),
		"--base-domain", "trident.test",
		"--device-scheme", "http", "--device-port", strconv.Itoa(port),
		"--event-retention", "1h", "--shutdown-timeout", "5s", "--worker-concurrency", "2",
		"--oidc-issuer", issuer, "--oidc-audience", "trident-api", "--oidc-role-claims", "groups", "--oidc-role-prefix", "trident",
		"--encryption-key", key, "--apple-device-identity", "signature",
		"--log-level", "info",
	}
}

// start runs Trident with the default flags and the test's on a free port.
func start(t *testing.T, issuer string, flags ...string) *server {
	t.Helper()
	return startOn(t, freePort(t), issuer, flags...)
}

// startOn is start on a port the caller chose first (an identity
// provider's redirect URIs name it).
func startOn(t *testing.T, port int, issuer string, flags ...string) *server {
	t.Helper()
	key := flagValue(flags, "--encryption-key")
	if key == "" {
		key = testKey(t)
	}
	all := append(defaults(issuer, port, key), flags...)
	scheme := "http"
	if flagValue(flags, "--tls-cert") != "" {
		scheme = "https" // Trident terminates TLS itself
	}
	s := &server{Base: fmt.Sprintf("%s://127.0.0.1:%d", scheme, port), Port: port, Key: key, Flags: all}
	serve := run(t, "serve", append(all, "--listen", fmt.Sprintf("127.0.0.1:%d", port)))
	workerPort := freePort(t)
	s.Worker = run(t, "worker", append(all, "--listen", fmt.Sprintf("127.0.0.1:%d", workerPort)))
	ready(t, serve, s.Base)
	ready(t, s.Worker, fmt.Sprintf("%s://127.0.0.1:%d", scheme, workerPort))
	d, err := tenancy.NewDirectory(testenv.DB(t), "trident.test")
	if err != nil {
		t.Fatal(err)
	}
	if addr := flagValue(flags, "--dns-server"); addr != "" {
		d.UseDNS(tenancy.DNSResolver(addr)) // the test proves hostnames where the server looks
	}
	s.Dir = d
	return s
}

// process is one running trident command.
type process struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error // cmd.Wait's, once done is closed
	// killed is set when the test killed it: it owes no graceful exit.
	killed bool
}

// kill ends the process at once with SIGKILL, as a crash or the OOM
// killer would, and waits until it is gone.
func (p *process) kill(t *testing.T) {
	t.Helper()
	p.killed = true
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-p.done
}

// run starts `trident name flags...`, its log going to the test's log,
// and stops it with SIGTERM when the test ends: it must shut down
// gracefully, within 10 s, with status 0.
func run(t *testing.T, name string, flags []string) *process {
	t.Helper()
	p := &process{name: name, cmd: exec.Command(trident(t), append([]string{name}, flags...)...), done: make(chan struct{})}
	p.cmd.Stdout = logTo(t, name)
	p.cmd.Stderr = p.cmd.Stdout
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		if p.killed {
			return
		}
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
			if p.err != nil {
				t.Errorf("trident %s after SIGTERM: %v", name, p.err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("trident %s: no graceful shutdown within 10 s", name)
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// ready waits until the process answers /readyz with 200, or fails the
// test if it exits first or takes more than 60 s.
func ready(t *testing.T, p *process, base string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-p.done:
			t.Fatalf("trident %s exited before it was ready: %v", p.name, p.err)
		default:
		}
		if resp, err := readiness.Get(base + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("trident %s not ready within 60 s", p.name)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// readiness asks a process whether it is ready, over TLS too (the
// process's certificate is the test's: it is not what is checked here).
var readiness = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}

// logTo writes a process's output to the test's log, line by line, each
// line prefixed with the process's name. The process's output ends
// before the test does (run's cleanup waits for it).
func logTo(t *testing.T, name string) io.Writer {
	r, w := io.Pipe()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			t.Log(name + ": " + sc.Text())
		}
		_, _ = io.Copy(io.Discard, r)
	}()
	// Registered before run's cleanup, so it runs after it: the process
	// has exited and its output is copied when the pipe closes.
	t.Cleanup(func() { w.Close(); wg.Wait() })
	return w
}

// freePort is a loopback port no one listens on now.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// flagValue is the last value of a flag given as "--name value" or
// "--name=value" in flags, or "".
func flagValue(flags []string, name string) string {
	v := ""
	for i, f := range flags {
		if f == name && i+1 < len(flags) {
			v = flags[i+1]
		} else if strings.HasPrefix(f, name+"=") {
			v = strings.TrimPrefix(f, name+"=")
		}
	}
	return v
}

// apnsFlags aim the server's pushes at a local APNs, trusting its
// certificate, as `loadtest/run` does with `trident loadtest apns`.
func apnsFlags(t *testing.T, apns *fakeapns.Server) []string {
	t.Helper()
	ca := filepath.Join(t.TempDir(), "apns-ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: apns.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	return []string{"--apns-url", apns.URL, "--apns-ca", ca}
}

func testKey(t *testing.T) string {
	_, k, err := seal.NewRandomKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// runCommand runs `trident args...` to its end and returns its output.
func runCommand(ctx context.Context, t *testing.T, args ...string) (string, error) {
	t.Helper()
	out, err := exec.CommandContext(ctx, trident(t), args...).CombinedOutput()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		err = fmt.Errorf("trident %s: %v", args[0], exit)
	}
	return string(out), err
}
