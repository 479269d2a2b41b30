package architecture

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// errorDecls lists, for the Go files under root (tests and generated
// code aside), "file: name" for each declaration that makes an error
// kind of its own instead of using internal/fault: a type named
// ValidationError (or any *Error type with Field and Problem fields), or
// a package-level ErrNotFound, ErrConflict or ErrStale outside tenancy.
func errorDecls(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		for _, decl := range f.Decls {
			g, ok := decl.(*ast.GenDecl)
			if !ok {
				continue
			}
			for _, spec := range g.Specs {
				switch s := spec.(type) {
				case *ast.TypeSpec:
					if st, ok := s.Type.(*ast.StructType); ok && (s.Name.Name == "ValidationError" || fieldProblem(st)) {
						out = append(out, rel+": type "+s.Name.Name)
					}
				case *ast.ValueSpec:
					for _, n := range s.Names {
						switch n.Name {
						case "ErrNotFound", "ErrConflict", "ErrStale":
							if filepath.Dir(rel) != "tenancy" {
								out = append(out, rel+": var "+n.Name)
							}
						}
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func fieldProblem(st *ast.StructType) bool {
	var field, problem bool
	for _, f := range st.Fields.List {
		for _, n := range f.Names {
			field = field || n.Name == "Field"
			problem = problem || n.Name == "Problem"
		}
	}
	return field && problem
}

// One error kind (issue 23): services return internal/fault errors, and
// "not found" is tenancy's one sentinel, so each edge maps codes once.
// The review found six copied ValidationError types and five ErrNotFounds.
func TestOneErrorKind(t *testing.T) {
	for _, d := range errorDecls(t, "../..") {
		t.Errorf("%s: use internal/fault (InvalidField, New) or tenancy's sentinels", d)
	}
}

// The check catches the copies the review found.
func TestOneErrorKindCatchesCopies(t *testing.T) {
	dir := t.TempDir()
	write := func(name, src string) {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("services/events/e.go", "package events\ntype ValidationError struct{ Field, Problem string }\nvar ErrNotFound = 1\n")
	write("services/inventory/i.go", "package inventory\ntype BadInput struct{ Field string; Problem string }\n")
	write("tenancy/t.go", "package tenancy\nvar ErrNotFound = 1\n")
	if got := errorDecls(t, dir); len(got) != 3 {
		t.Errorf("found %d copies, want 3: %v", len(got), got)
	}
}
