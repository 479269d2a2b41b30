// Package seal encrypts secrets at rest (CA keys, push certificate keys,
// ABM tokens) with the encryption key from Trident's configuration:
// AES-256-GCM, with associated data that binds each sealed value to where it
// belongs (a tenant and a purpose), so a value copied into another tenant's
// row does not open.
//
// A Keyring holds the current key, which seals, and older keys, which still
// open what they sealed, so the key can be rotated without downtime: add the
// new key as current, keep the old one, re-seal at leisure.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// A sealed value is: version byte, 8-byte key id, 12-byte nonce, ciphertext.
const version = 1

// Key is one 32-byte AES-256 key.
type Key struct {
	id   [8]byte
	aead cipher.AEAD
}

// ParseKey reads a key written as base64 (standard or URL alphabet) of 32
// random bytes, as `openssl rand -base64 32` prints.
func ParseKey(s string) (Key, error) {
	s = strings.TrimSpace(s)
	var raw []byte
	var err error
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if raw, err = enc.DecodeString(s); err == nil {
			break
		}
	}
	if err != nil || len(raw) != 32 {
		return Key{}, errors.New("seal: the encryption key must be 32 random bytes in base64 (openssl rand -base64 32)")
	}
	return newKey(raw)
}

// NewRandomKey makes a fresh key and returns it with its base64 form.
func NewRandomKey() (Key, string, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return Key{}, "", err
	}
	k, err := newKey(raw)
	return k, base64.StdEncoding.EncodeToString(raw), err
}

func newKey(raw []byte) (Key, error) {
	block, err := aes.NewCipher(raw)
	if err != nil {
		return Key{}, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return Key{}, err
	}
	sum := sha256.Sum256(append([]byte("trident seal key id\x00"), raw...))
	k := Key{aead: aead}
	copy(k.id[:], sum[:8])
	return k, nil
}

// Keyring seals with its current key and opens with any of its keys.
type Keyring struct {
	current Key
	all     map[[8]byte]Key
}

// NewKeyring returns a keyring sealing with current and opening with
// current and old.
func NewKeyring(current Key, old ...Key) *Keyring {
	r := &Keyring{current: current, all: map[[8]byte]Key{current.id: current}}
	for _, k := range old {
		r.all[k.id] = k
	}
	return r
}

// Seal encrypts plaintext bound to context (for example "tenant/<id>/ca").
func (r *Keyring) Seal(plaintext []byte, context string) ([]byte, error) {
	if r == nil || r.current.aead == nil {
		return nil, errors.New("seal: no encryption key configured")
	}
	out := make([]byte, 1+8+12, 1+8+12+len(plaintext)+16)
	out[0] = version
	copy(out[1:9], r.current.id[:])
	if _, err := rand.Read(out[9:21]); err != nil {
		return nil, err
	}
	return r.current.aead.Seal(out, out[9:21], plaintext, []byte(context)), nil
}

// ErrWrongKey means no key of the ring sealed the value, or it was sealed
// for another context, or it was altered.
var ErrWrongKey = errors.New("seal: cannot open: unknown key, other context, or altered")

// Open decrypts a value sealed for context.
func (r *Keyring) Open(sealed []byte, context string) ([]byte, error) {
	if len(sealed) < 1+8+12+16 || sealed[0] != version {
		return nil, fmt.Errorf("seal: not a sealed value")
	}
	var id [8]byte
	copy(id[:], sealed[1:9])
	k, ok := r.all[id]
	if !ok {
		return nil, ErrWrongKey
	}
	pt, err := k.aead.Open(nil, sealed[9:21], sealed[21:], []byte(context))
	if err != nil {
		return nil, ErrWrongKey
	}
	return pt, nil
}
