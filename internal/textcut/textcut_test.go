package textcut_test

import (
	"testing"
	"unicode/utf8"

	"github.com/tridentmdm/trident/internal/textcut"
)

func TestPrefix(t *testing.T) {
	for _, c := range []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"exactly", 7, "exactly"},
		{"abcdef", 3, "abc"},
		{"añb", 2, "a"}, // ñ is two bytes: not cut in half
		{"ñ", 1, ""},
	} {
		if got := textcut.Prefix(c.in, c.n); got != c.want || !utf8.ValidString(got) {
			t.Errorf("Prefix(%q, %d) = %q, want %q", c.in, c.n, got, c.want)
		}
	}
}
