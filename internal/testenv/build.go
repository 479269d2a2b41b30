package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
)

// builds are the binaries a test binary compiled, by what was asked.
var builds struct {
	sync.Mutex
	dir  string // removed when Main's tests end
	done map[string]*build
}

type build struct {
	once sync.Once
	bin  string // the file's name in the folder
	err  error
}

// Build compiles the command at importPath with the go command's flags
// (such as -race or -tags loadtest) once per test binary and returns the
// binary's path. The binary is removed when the package's tests end
// (Main). The go command caches what it compiled before, so a binary of
// packages the tests already built costs little more than a link.
func Build(importPath string, flags ...string) (string, error) {
	key := importPath + " " + strings.Join(flags, " ")
	builds.Lock()
	if builds.done == nil {
		builds.done = map[string]*build{}
	}
	b := builds.done[key]
	if b == nil {
		b = &build{}
		builds.done[key] = b
		b.bin = fmt.Sprintf("%s-%d", path.Base(importPath), len(builds.done))
	}
	if builds.dir == "" {
		var err error
		if builds.dir, err = os.MkdirTemp("", "trident-test-bin-"); err != nil {
			builds.Unlock()
			return "", err
		}
	}
	bin := filepath.Join(builds.dir, b.bin)
	builds.Unlock()
	b.once.Do(func() {
		goCmd, err := exec.LookPath("go")
		if err != nil {
			goCmd = filepath.Join(runtime.GOROOT(), "bin", "go")
		}
		args := append(append([]string{"build"}, flags...), "-o", bin, importPath)
		if out, err := exec.Command(goCmd, args...).CombinedOutput(); err != nil {
			b.err = fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	})
	if b.err != nil {
		return "", b.err
	}
	return bin, nil
}

// removeBuilds deletes what Build compiled.
func removeBuilds() {
	builds.Lock()
	defer builds.Unlock()
	if builds.dir != "" {
		_ = os.RemoveAll(builds.dir)
		builds.dir, builds.done = "", nil
	}
}
