package seal

import (
	"bytes"
	"errors"
	"testing"
)

func TestSealOpenRotate(t *testing.T) {
	old, _, _ := NewRandomKey()
	cur, text, _ := NewRandomKey()
	parsed, err := ParseKey(text)
	if err != nil || parsed.id != cur.id {
		t.Fatalf("ParseKey: %v", err)
	}
	before := NewKeyring(old)
	sealedOld, _ := before.Seal([]byte("ca key"), "tenant/a/ca")
	ring := NewKeyring(cur, old)
	sealed, err := ring.Seal([]byte("ca key"), "tenant/a/ca")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range [][]byte{sealed, sealedOld} {
		if pt, err := ring.Open(s, "tenant/a/ca"); err != nil || !bytes.Equal(pt, []byte("ca key")) {
			t.Fatalf("Open = %q, %v", pt, err)
		}
	}
	if _, err := ring.Open(sealed, "tenant/b/ca"); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("opened in another context: %v", err)
	}
	tampered := bytes.Clone(sealed)
	tampered[len(tampered)-1] ^= 1
	if _, err := ring.Open(tampered, "tenant/a/ca"); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("opened a tampered value: %v", err)
	}
	if _, err := NewKeyring(cur).Open(sealedOld, "tenant/a/ca"); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("opened with a key that was dropped: %v", err)
	}
	for _, bad := range []string{"", "short", "!!!!", "YWJj"} {
		if _, err := ParseKey(bad); err == nil {
			t.Errorf("ParseKey(%q) accepted", bad)
		}
	}
}
