package mdmstore

import (
	"bytes"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/micromdm/plist"
)

// ErrBadPlist refuses a device message that cannot be kept as text: a
// property list that does not parse, or that holds a NUL or bytes that are
// not UTF-8 (PostgreSQL's text refuses both).
var ErrBadPlist = errors.New("mdmstore: the message is not a property list Trident can keep")

// Text is a device's message as Trident keeps it: an XML property list.
// Apple devices may send binary property lists ("bplist00"); those are
// parsed and kept as the XML of what was parsed, never as raw bytes in a
// text column.
func Text(raw []byte) (string, error) {
	if bytes.HasPrefix(raw, []byte("bplist")) {
		var v any
		if err := plist.Unmarshal(raw, &v); err != nil {
			return "", fmt.Errorf("%w: %v", ErrBadPlist, err)
		}
		x, err := plist.MarshalIndent(v, "\t")
		if err != nil {
			return "", fmt.Errorf("%w: %v", ErrBadPlist, err)
		}
		raw = x
	}
	if !utf8.Valid(raw) || bytes.IndexByte(raw, 0) >= 0 {
		return "", fmt.Errorf("%w: it holds a NUL or bytes that are not UTF-8", ErrBadPlist)
	}
	return string(raw), nil
}
